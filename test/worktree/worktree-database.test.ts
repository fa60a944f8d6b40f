/**
 * Issue 28 (DESIGN §17): a database for every worktree. Real `git worktree add`, the built CLI through
 * the installed hooks, the embedded server, and a real app process (a pg.Pool querying every 100 ms).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { worktreeDatabaseName } from '../../src/core/kept-database.js';
import { tableMigration, sqlAt as sql } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';
import { addWorktree, base, developerRepo, inWorktree, urlIn, type Setup } from '../helpers/worktrees.js';

const APP = resolve(import.meta.dirname, '..', 'fixtures', 'go-style-app.mjs');
const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).reverse().forEach((c) => c()));


describe('git worktree add: the worktree\'s own database, copied from the developer\'s', () => {
  it('has the developer\'s rows, its own URL on the same port, .dbguard/env, and the hook says so in one line', async () => {
    const setup = await developerRepo(cleanups);
    const { path, add } = addWorktree(setup, 'wt one', 'agent1');
    const name = worktreeDatabaseName('postgres', path);
    expect(add.stderr).toMatch(new RegExp(`dbguard: this worktree's database: ${name} \\(copy of postgres, [0-9.]+ [kMG]?B, [0-9.]+ s\\); DATABASE_URL in \\.dbguard/env\\n`));
    const url = urlIn(setup, path);
    expect(new URL(url).port).toBe(new URL(setup.mainUrl).port);
    expect(new URL(url).pathname).toBe(`/${name}`);
    expect(readFileSync(join(path, '.dbguard', 'env'), 'utf8')).toBe(`DATABASE_URL=${url}\n`);
    expect(await sql(url, 'SELECT note FROM one')).toEqual([{ note: "the developer's row" }]);
    // One server: no cluster of its own in the worktree.
    expect(existsSync(join(path, '.dbguard', 'postgres'))).toBe(false);
    // Its comment says what it is.
    const comment = await sql<{ c: string }>(setup.mainUrl, `SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = '${name}'`);
    expect(JSON.parse(comment[0]?.c.replace(/^dbguard database /, '') ?? '{}')).toMatchObject({ kind: 'worktree', worktree: path, branch: 'agent1', source: 'postgres' });
    // Every command there works on it.
    const status = inWorktree(setup, path, ['status']);
    expect(status.stdout).toContain(`/${name}`);
  });

  it('keeps the two apart both ways: rows and migrations', async () => {
    const setup = await developerRepo(cleanups);
    const { path } = addWorktree(setup, 'wt', 'feature');
    const url = urlIn(setup, path);
    await sql(url, "INSERT INTO one (note) VALUES ('worktree only')");
    await sql(setup.mainUrl, "INSERT INTO one (note) VALUES ('main only')");
    expect((await sql(url, 'SELECT note FROM one ORDER BY id')).map((r) => r.note)).toEqual(["the developer's row", 'worktree only']);
    expect((await sql(setup.mainUrl, 'SELECT note FROM one ORDER BY id')).map((r) => r.note)).toEqual(["the developer's row", 'main only']);
    // A migration of the worktree's branch is applied to its database only.
    const worktreeRepo = new GitRepo(path);
    worktreeRepo.commitMigrations({ ...base, ...tableMigration(3, 'three') }, 'three');
    expect(inWorktree(setup, path, ['migrate']).status).toBe(0);
    expect(await sql(url, "SELECT to_regclass('three')::text AS t")).toEqual([{ t: 'three' }]);
    expect(await sql(setup.mainUrl, "SELECT to_regclass('three')::text AS t")).toEqual([{ t: null }]);
    expect(await sql(setup.mainUrl, 'SELECT version::text FROM schema_migrations')).toEqual([{ version: '2' }]);
    // And main's checkout and commands never see the worktree's migration.
    expect(setup.repo.dbguard(['check']).status).toBe(0);
  });

  it('brings the copy in step with a branch that lacks a migration the developer applied; the source is unchanged', async () => {
    const setup = await developerRepo(cleanups);
    setup.repo.git('branch', 'older', 'HEAD');
    setup.repo.commitMigrations({ ...base, ...tableMigration(3, 'three') }, 'three');
    expect(setup.repo.dbguard(['migrate']).status).toBe(0);
    const path = join(setup.outside, 'older');
    const add = setup.repo.git('worktree', 'add', '-q', path, 'older');
    expect(add.stderr).toContain('rolled back in it: 3 (this branch lacks it); postgres is unchanged');
    const url = urlIn(setup, path);
    expect(await sql(url, 'SELECT version::text FROM schema_migrations')).toEqual([{ version: '2' }]);
    expect(await sql(setup.mainUrl, 'SELECT version::text FROM schema_migrations')).toEqual([{ version: '3' }]);
    expect(await sql(url, 'SELECT note FROM one')).toEqual([{ note: "the developer's row" }]);
  });

  it('four worktree adds at once never collide', async () => {
    const setup = await developerRepo(cleanups);
    const adds = await Promise.all([1, 2, 3, 4].map((n) => new Promise<{ path: string; code: number; stderr: string }>((done) => {
      const path = join(setup.outside, `agent-${n}`);
      const child = spawn('git', ['worktree', 'add', '-q', '-b', `agent${n}`, path], {
        cwd: setup.repo.root, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', GIT_CONFIG_NOSYSTEM: '1' },
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => done({ path, code: code ?? -1, stderr }));
    })));
    for (const { path, code, stderr } of adds) {
      expect(code).toBe(0);
      expect(stderr).toContain(`dbguard: this worktree's database: ${worktreeDatabaseName('postgres', path)} (copy of postgres`);
      expect(await sql(urlIn(setup, path), 'SELECT note FROM one')).toEqual([{ note: "the developer's row" }]);
    }
  });

  it('a worktree added while the server is stopped starts it for the copy, says so, and stops it again', async () => {
    const setup = await developerRepo(cleanups);
    expect(setup.repo.dbguard(['db', 'stop']).status).toBe(0);
    const { path, add } = addWorktree(setup, 'cold', 'cold');
    expect(add.stderr).toMatch(/dbguard: this worktree's database: \S+ \(copy of postgres, .*; the server was stopped: started for it\)/);
    expect(JSON.parse(setup.repo.dbguard(['db', 'status', '--json']).stdout)).toMatchObject({ running: false });
    expect(setup.repo.dbguard(['db', 'start']).status).toBe(0);
    expect(await sql(urlIn(setup, path), 'SELECT note FROM one')).toEqual([{ note: "the developer's row" }]);
  });

  it('paths with spaces, quotes, $(…) and unicode give valid, unique names, and nothing reaches a shell', async () => {
    const setup = await developerRepo(cleanups);
    const names = ['it\'s "quoted"', 'sub $(touch pwned) `touch pwned2`', 'ünïcødé 数据库'];
    const paths = names.map((name, i) => addWorktree(setup, name, `odd${i}`).path);
    const databases = paths.map((path) => worktreeDatabaseName('postgres', path));
    expect(new Set(databases).size).toBe(3);
    for (const [i, path] of paths.entries()) {
      expect(databases[i]).toMatch(/^[a-z0-9_]{1,63}$/);
      expect(new URL(urlIn(setup, path)).pathname).toBe(`/${databases[i]}`);
    }
    for (const dir of [setup.repo.root, setup.outside, ...paths]) {
      expect(existsSync(join(dir, 'pwned'))).toBe(false);
      expect(existsSync(join(dir, 'pwned2'))).toBe(false);
    }
  });
});

describe('a fresh worktree without the hook', () => {
  it('status says what its database is and what to run; the first command that needs it makes it', async () => {
    const setup = await developerRepo(cleanups);
    const path = join(setup.outside, 'nohook');
    // No hook runs (a repository without them, or one that failed): the first command makes it.
    setup.repo.git('-c', 'core.hooksPath=/dev/null', 'worktree', 'add', '-q', '-b', 'nohook', path);
    const name = worktreeDatabaseName('postgres', path);
    const status = inWorktree(setup, path, ['status']);
    expect(status.status).toBe(1);
    expect(status.stdout).toContain(`worktree     its own database ${name}: not made yet (a copy of postgres, the main worktree's database)`);
    expect(status.stdout).toContain(`next         dbguard migrate   (copies postgres into ${name}, brings it in step with this branch, applies what is pending)`);
    expect(status.stdout).not.toContain('nothing to do');
    const migrate = inWorktree(setup, path, ['migrate']);
    expect(migrate.status).toBe(0);
    expect(migrate.stderr).toContain(`dbguard: this worktree's database: ${name} (copy of postgres`);
    expect(await sql(urlIn(setup, path), 'SELECT note FROM one')).toEqual([{ note: "the developer's row" }]);
    expect(inWorktree(setup, path, ['status']).stdout).toContain('next         nothing to do');
  });
});

/** A running app: the fixture's pool querying every 100 ms; `lines` collects what it prints. */
function startApp(cwd: string, url: string): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, [APP, 'migrations'], { cwd, env: { ...process.env, DATABASE_URL: url } });
  const lines: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  cleanups.push(() => child.kill('SIGKILL'));
  return { child, lines };
}

async function until(what: () => boolean, ms = 15_000): Promise<void> {
  for (const started = Date.now(); !what(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() - started > ms) throw new Error('timed out');
  }
}

describe('the app stays connected to the main database', () => {
  it('git worktree add neither fails nor hangs; the app keeps answering and the hook says which way it copied', async () => {
    const setup = await developerRepo(cleanups);
    const app = startApp(setup.repo.root, setup.mainUrl);
    await until(() => app.lines.filter((l) => l === 'query ok').length >= 3);
    const started = Date.now();
    const { path, add } = addWorktree(setup, 'beside-app', 'beside');
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(add.status).toBe(0);
    expect(add.stderr).toMatch(/this worktree's database: \S+ \(copy of postgres, [^)]*other sessions? (was|were) ended for the copy, a pool reconnects\)/);
    const okBefore = app.lines.filter((l) => l === 'query ok').length;
    await until(() => app.lines.filter((l) => l === 'query ok').length >= okBefore + 5);
    expect(app.child.exitCode).toBeNull();
    expect(await sql(urlIn(setup, path), 'SELECT note FROM one')).toEqual([{ note: "the developer's row" }]);
  });

  it('"whenSourceBusy": "snapshot" copies the newest snapshot and disconnects nobody', async () => {
    const setup = await developerRepo(cleanups, { worktreeDatabases: { whenSourceBusy: 'snapshot' } });
    expect(setup.repo.dbguard(['snapshot', 'save', 'before-agents']).status).toBe(0);
    await sql(setup.mainUrl, "INSERT INTO one (note) VALUES ('after the snapshot')");
    const app = startApp(setup.repo.root, setup.mainUrl);
    await until(() => app.lines.filter((l) => l === 'query ok').length >= 3);
    const { path, add } = addWorktree(setup, 'from-snapshot', 'snap');
    expect(add.stderr).toMatch(/\(copy of snapshot before-agents of postgres, taken [^,]+, [^)]*postgres is in use, so nobody was disconnected\)/);
    expect(app.lines.filter((l) => l.startsWith('query failed'))).toEqual([]);
    expect(await sql(urlIn(setup, path), 'SELECT note FROM one')).toEqual([{ note: "the developer's row" }]);
  });
});

/** `dbguard run -- <app>` in a worktree, its output collected; the app: a pg.Pool querying every 100 ms, exiting 7 on SIGTERM. */
const POOL_APP = `
const pg = require(${JSON.stringify(resolve(import.meta.dirname, '..', '..', 'node_modules', 'pg'))});
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
pool.on('error', () => undefined);
process.on('SIGTERM', () => pool.end().finally(() => process.exit(7)));
setInterval(() => pool.query('SELECT current_database() AS d').then((r) => console.log('query ok ' + r.rows[0].d), (e) => console.log('query failed ' + e.message)), 100);
`;

function runApp(setup: Setup, cwd: string): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', '..', 'dist', 'bin.js'), 'run', '--', process.execPath, '-e', POOL_APP], {
    cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  cleanups.push(() => child.kill('SIGKILL'));
  void setup;
  return { child, lines, exited: new Promise((done) => child.on('exit', (code) => done(code))) };
}

const oks = (lines: readonly string[]) => lines.filter((l) => l.startsWith('query ok')).length;

describe('dbguard run in worktrees, on the one server', () => {
  it('sets the worktree\'s own URL; run in two worktrees at once, one exits: the server stays up for the other', async () => {
    const setup = await developerRepo(cleanups);
    const one = addWorktree(setup, 'run-one', 'one').path;
    const two = addWorktree(setup, 'run-two', 'two').path;
    expect(setup.repo.dbguard(['db', 'stop']).status).toBe(0);
    const first = runApp(setup, one);
    await until(() => oks(first.lines) >= 2);
    expect(first.lines).toContain(`query ok ${worktreeDatabaseName('postgres', one)}`);
    const second = runApp(setup, two);
    await until(() => oks(second.lines) >= 2);
    expect(second.lines).toContain(`query ok ${worktreeDatabaseName('postgres', two)}`);
    // db stop refuses while they use it.
    const stop = setup.repo.dbguard(['db', 'stop']);
    expect(stop.status).toBe(3);
    expect(stop.stderr).toContain('SERVER_IN_USE');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(7);
    const okBefore = oks(second.lines);
    await until(() => oks(second.lines) >= okBefore + 5);
    expect(second.lines.filter((l) => l.startsWith('query failed'))).toEqual([]);
    expect(JSON.parse(setup.repo.dbguard(['db', 'status', '--json']).stdout)).toMatchObject({ running: true });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(7);
    expect(JSON.parse(setup.repo.dbguard(['db', 'status', '--json']).stdout)).toMatchObject({ running: false });
  });

  it('git worktree remove --force while dbguard run runs there: the app keeps its database, run exits with its code, nothing is written into the gone folder', async () => {
    const setup = await developerRepo(cleanups);
    const path = addWorktree(setup, 'doomed', 'doomed').path;
    const app = runApp(setup, path);
    await until(() => oks(app.lines) >= 2);
    // run's watcher may write its state in the very moment git deletes the folder ("Directory not empty"):
    // git then says so and the user runs it again, as here (once).
    if (setup.repo.git('worktree', 'remove', '--force', path).status !== 0) setup.repo.git('worktree', 'remove', '--force', path);
    expect(existsSync(path)).toBe(false);
    const okBefore = oks(app.lines);
    await until(() => oks(app.lines) >= okBefore + 10); // over a second: the run's watcher ticked meanwhile
    expect(app.lines.filter((l) => l.startsWith('query failed'))).toEqual([]);
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(7);
    expect(app.lines.join('\n')).toContain("this worktree's folder is gone (git worktree remove); nothing was captured or written there");
    expect(existsSync(path)).toBe(false);
    // The same path can hold a worktree again.
    expect(setup.repo.git('worktree', 'add', '-q', path, 'doomed').status).toBe(0);
  });
});
