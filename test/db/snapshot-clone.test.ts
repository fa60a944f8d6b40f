/**
 * Issue 20.1, §16: on a disk that can clone (XFS with reflink, loop-mounted here; needs root and
 * mkfs.xfs, which .ci/run installs), a snapshot and its restore clone the database's files: the disk's
 * used space barely moves for a 120 MB database, and the data comes back whole. On ext4 nothing changes.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { filesCanBeCloned } from '../../src/fs/clone-probe.js';
import { BIN, run } from '../helpers/git.js';

const canMount = process.getuid?.() === 0 && spawnSync('mkfs.xfs', ['-V']).status === 0;
const cleanups: Array<() => void> = [];
afterAll(() => cleanups.reverse().forEach((c) => c()));

/** The mounted image's folder; null where this machine cannot loop-mount (a container without loop devices). */
function mountXfs(): string | null {
  const work = mkdtempSync(join(tmpdir(), 'dbguard-test-xfs-'));
  chmodSync(work, 0o755);
  const image = join(work, 'disk.img');
  const dir = join(work, 'mnt');
  mkdirSync(dir);
  cleanups.push(() => {
    spawnSync('umount', [dir]);
    rmSync(work, { recursive: true, force: true });
  });
  expect(spawnSync('truncate', ['-s', '2G', image]).status).toBe(0);
  expect(spawnSync('mkfs.xfs', ['-q', '-m', 'reflink=1', image]).status).toBe(0);
  if (spawnSync('mount', ['-o', 'loop', image, dir]).status !== 0) return null;
  chmodSync(dir, 0o755);
  return dir;
}

const usedBytes = (dir: string) => {
  const s = statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
};

describe('snapshots clone where the disk can (§16)', () => {
  it('ext4 (the machine\'s own disk) is not taken for a disk that clones', () => {
    const type = spawnSync('df', ['--output=fstype', tmpdir()], { encoding: 'utf8' }).stdout.split('\n')[1]?.trim();
    if (type === 'ext4') expect(filesCanBeCloned(tmpdir())).toBe(false);
  });

  it.skipIf(!canMount)('XFS with reflink: save and restore of a 120 MB database use almost no space, and the data comes back', async (ctx) => {
    const disk = mountXfs();
    if (disk === null) return ctx.skip();
    const root = join(disk, 'project');
    mkdirSync(join(root, 'migrations'), { recursive: true });
    expect(filesCanBeCloned(join(root, 'migrations'))).toBe(true);
    mkdirSync(join(root, '.git'));
    chmodSync(root, 0o755);
    writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ migrationsDir: 'migrations' }));
    writeFileSync(join(root, 'migrations', '1_big.up.sql'), 'CREATE TABLE big (id bigint PRIMARY KEY, payload text);');
    writeFileSync(join(root, 'migrations', '1_big.down.sql'), 'DROP TABLE big;');
    const dbguard = (...args: string[]) => run(process.execPath, [BIN, ...args], root);
    cleanups.push(() => dbguard('db', 'stop'));
    expect(dbguard('migrate').status).toBe(0);
    expect(dbguard('db', 'start').status).toBe(0);
    const client = new pg.Client({ connectionString: dbguard('db', 'url', '--show-password').stdout.trim() });
    await client.connect();
    await client.query("INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, 900000) g; CHECKPOINT");
    const size = Number((await client.query<{ b: string }>('SELECT pg_database_size(current_database())::text AS b')).rows[0]?.b);
    expect(size).toBeGreaterThan(110 * 1024 * 1024);
    await client.end();
    // The first copy's checkpoint settles what the inserts left (WAL recycled, XFS's preallocation trimmed): not the copy's cost.
    expect(dbguard('snapshot', 'save', 'settle').status).toBe(0);
    expect(dbguard('snapshot', 'drop', 'settle').status).toBe(0);
    spawnSync('sync');
    const before = usedBytes(disk);
    expect(dbguard('snapshot', 'save', 'cloned').status).toBe(0);
    spawnSync('sync');
    const afterSave = usedBytes(disk);
    // A copy would take the database's size again; a clone shares its blocks (a few MB of checkpoint and WAL).
    expect(afterSave - before).toBeLessThan(size / 4);
    const again = new pg.Client({ connectionString: dbguard('db', 'url', '--show-password').stdout.trim() });
    await again.connect();
    // The delete writes every page anew (copy on write): measured before the restore, not charged to it.
    await again.query('DELETE FROM big WHERE id > 10; CHECKPOINT');
    await again.end();
    spawnSync('sync');
    const beforeRestore = usedBytes(disk);
    const restored = dbguard('snapshot', 'restore', 'cloned');
    expect(restored.status, restored.stdout + restored.stderr).toBe(0);
    spawnSync('sync');
    expect(usedBytes(disk) - beforeRestore).toBeLessThan(size / 4);
    const check = new pg.Client({ connectionString: dbguard('db', 'url', '--show-password').stdout.trim() });
    await check.connect();
    expect((await check.query<{ n: number }>('SELECT count(*)::int AS n FROM big')).rows[0]?.n).toBe(900000);
    await check.end();
  });
});
