/**
 * Issue 25.9: a step that fails for a reason outside its SQL — a full disk (SQLSTATE 53100), a
 * connection ended under it — is not blamed on the down (or up) SQL: it says what happened, where the
 * database is, and that the same command continues once the cause is gone.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { base, BIN, GitRepo, repoOnNewDatabase } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

/** Raises what Postgres raises when it cannot extend a file, while the table disk_full exists. */
const DISK_FULL = `DO $$ BEGIN IF to_regclass('public.disk_full') IS NOT NULL THEN
  RAISE EXCEPTION 'could not extend file "base/16384/16385": No space left on device' USING ERRCODE = '53100'; END IF; END $$;`;

/** main has 445; branch a adds 446 (whose down is `down446`) and 447, applied; the repository is back on main. */
async function onMainWithPhantoms(down446: string): Promise<{ repo: GitRepo; db: string }> {
  const { repo, db } = await repoOnNewDatabase(repos, base, 'base');
  repo.git('checkout', '-q', '-b', 'a');
  repo.commitMigrations({ ...base, '446_a_one.up.sql': 'CREATE TABLE a_one (id int);', '446_a_one.down.sql': down446, ...tableMigration(447, 'a_two') }, 'a');
  expect(repo.dbguard(['migrate']).status).toBe(0);
  repo.git('checkout', '-q', 'main');
  return { repo, db };
}

describe('failures that are not the SQL\'s (issue 25.9)', () => {
  it('disk full during a rollback step: free disk space, then dbguard rollback continues from where it stopped', async () => {
    const { repo, db } = await onMainWithPhantoms(`${DISK_FULL}\nDROP TABLE a_one;`);
    await query(db, 'CREATE TABLE disk_full ()');
    const failed = repo.dbguard(['rollback', '--yes', '--no-snapshot']);
    expect(failed.status).toBe(4);
    expect(failed.stderr).toContain('error[DB_OUT_OF_RESOURCES] rolling back 446_a_one.up.sql stopped: the database server ran out of disk space (could not extend file "base/16384/16385": No space left on device); the database is at version 446 (its transaction was undone)');
    expect(failed.stderr).toContain('next: free disk space where the database keeps its data, then dbguard rollback continues from where it stopped (the database is at version 446)');
    expect(failed.stderr).not.toContain('fix the down SQL');
    expect(await schemaVersion(db)).toEqual({ version: '446', dirty: false });
    // The space is freed: the same command goes on.
    await query(db, 'DROP TABLE disk_full');
    const resumed = repo.dbguard(['rollback', '--yes', '--no-snapshot']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });

  it('disk full while migrate applies an up: not "fix the file"', async () => {
    const db = await createDatabase();
    const repo = GitRepo.create();
    repos.push(repo);
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    repo.commitMigrations({ ...base, '446_a_one.up.sql': `${DISK_FULL}\nCREATE TABLE a_one (id int);`, '446_a_one.down.sql': 'DROP TABLE a_one;' }, 'base');
    await query(db, 'CREATE TABLE disk_full ()');
    const failed = repo.dbguard(['migrate']);
    expect(failed.status).toBe(4);
    expect(failed.stderr).toContain('error[DB_OUT_OF_RESOURCES] applying 446_a_one.up.sql stopped: the database server ran out of disk space');
    expect(failed.stderr).toContain('nothing of it was applied, the database is at version 445 (clean)');
    expect(failed.stderr).toContain('next: free disk space where the database keeps its data, then dbguard migrate continues from where it stopped');
    await query(db, 'DROP TABLE disk_full');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '446', dirty: false });
  });

  it('the connection ended under a step (pg_terminate_backend): said as such, not blamed on the down SQL', async () => {
    const { repo, db } = await onMainWithPhantoms('SELECT pg_sleep(30); DROP TABLE a_one;');
    const child = spawn(process.execPath, [BIN, 'rollback', '--yes', '--no-snapshot'], { cwd: repo.root, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // An operator (or a server restart) ends dbguard's session while 446's down sleeps.
    for (let ended = 0; ended === 0;) {
      await new Promise((r) => setTimeout(r, 100));
      ended = (await query<{ n: number }>(db, `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()`))[0]?.n ?? 0;
    }
    expect(await exited).toBe(4);
    expect(stderr).toMatch(/error\[DB_CONNECTION_LOST\] rolling back 446_a_one\.up\.sql stopped: the connection to the database was lost \(terminating connection due to administrator command\); the database is at version 446/);
    expect(stderr).toContain('next: dbguard status   (shows where the database is), then dbguard rollback continues from where it stopped');
    expect(stderr).not.toContain('fix the down SQL');
    expect(await schemaVersion(db)).toEqual({ version: '446', dirty: false });
  });
});
