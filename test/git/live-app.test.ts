/**
 * Living with the app (issue 17, DESIGN §14): a Go-style service that applies its own migrations on
 * start (golang-migrate's way) and stays connected. Real app process, real git, the embedded database.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { tableMigration, sqlAt as sql } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';

const APP = resolve(import.meta.dirname, '..', 'fixtures', 'go-style-app.mjs');
const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).reverse().forEach((c) => c()));

function embeddedRepo(config: Record<string, unknown> = {}): GitRepo {
  const repo = GitRepo.create();
  cleanups.push(() => {
    repo.dbguard(['db', 'stop']);
    repo.cleanup();
  });
  repo.write('dbguard.config.json', JSON.stringify(config));
  repo.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two') }, 'base');
  expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
  return repo;
}

function databaseUrl(repo: GitRepo): string {
  expect(repo.dbguard(['db', 'start']).status).toBe(0);
  return repo.dbguard(['db', 'url', '--show-password']).stdout.trim();
}

/** The app migrates on start and exits (APP_EXIT_AFTER_MIGRATE), as `go run .` that was stopped. */
function appMigratesAndExits(repo: GitRepo, url: string): void {
  const ran = spawnSync(process.execPath, [APP, 'migrations'], { cwd: repo.root, encoding: 'utf8', env: { ...process.env, DATABASE_URL: url, APP_EXIT_AFTER_MIGRATE: '1' } });
  expect(ran.status, ran.stderr).toBe(0);
}

/** A feature branch whose migration 3 only the app applied; dbguard saw 1 and 2. */
function featureAppliedByTheApp(repo: GitRepo, url: string): void {
  expect(repo.dbguard(['migrate']).status).toBe(0);
  repo.git('checkout', '-q', '-b', 'feature');
  repo.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two'), ...tableMigration(3, 'three') }, 'three');
  appMigratesAndExits(repo, url);
}

describe('story 1: a migration the app applied never passes a checkout unnoticed', () => {
  it('warns on checkout with the embedded server running, and check says so (exit 1)', async () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    featureAppliedByTheApp(repo, url);
    expect(await sql(url, 'SELECT version::text FROM schema_migrations')).toEqual([{ version: '3' }]);
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain('lacks 1 migration the database has applied: 3 (checked the database: 3 left with this checkout and the cache did not list it)');
    const check = repo.dbguard(['check']);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('checked the database too');
    expect(repo.dbguard(['check', '--offline']).status).toBe(1); // the cache now lists what the database was found to hold
  });

  it('also when the shim\'s fast path was armed: what its own git diff saw taken away is handed to the hook', async () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    featureAppliedByTheApp(repo, url);
    expect(repo.dbguard(['db', 'stop']).status).toBe(0); // so no hook asks before the checkout to main
    // Clean checkouts between branches with the same migrations arm the shim's node-less path.
    repo.git('checkout', '-q', '-b', 'side');
    repo.commitFile('NOTES.md', 'side', 'side');
    const toFeature = repo.git('checkout', '-q', 'feature');
    expect(toFeature.stderr).not.toContain('lacks');
    // Not "new": with the server stopped nobody asked the database, and the app may have applied it.
    expect(toFeature.stderr).toContain('dbguard: 1 migration here that dbguard has not seen applied (3): dbguard migrate, or if your app applied it: dbguard capture');
    expect(repo.git('checkout', '-q', 'side').stderr).not.toContain('lacks');
    expect(readFileSync(join(repo.root, '.git', 'dbguard-fast-path'), 'utf8')).toContain('hook-clean\t');
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain('lacks 1 migration the database has applied: 3 (checked the database: 3 left with this checkout');
  });

  it('warns with the embedded server stopped (the hook starts it), and check says its answer is the cache\'s', () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    featureAppliedByTheApp(repo, url);
    expect(repo.dbguard(['db', 'stop']).status).toBe(0);
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain('lacks 1 migration the database has applied: 3');
    expect(JSON.parse(repo.dbguard(['db', 'status', '--json']).stdout).running).toBe(false);
    // What the hook learned from the database stays in the cache: check, without it, gives the same answer.
    const check = repo.dbguard(['check']);
    expect(check.stdout).toContain('answer from the cache: the embedded database is stopped');
    expect(check.stdout).toContain('conflict: 1 applied migration is not on this branch');
    expect(check.stdout).toContain('3  3_create_three.up.sql  missing');
    expect(check.status).toBe(1);
    const cache = JSON.parse(readFileSync(join(repo.root, '.dbguard', 'migration_cache.json'), 'utf8')) as { migrations: Record<string, string>; downCaptured: string[] };
    expect(cache.migrations['3']).toBe('3_create_three.up.sql');
    expect(cache.downCaptured).toContain('3'); // the down SQL came from feature's tree
    // And the next checkout does not start the server to ask again: it is a known phantom now.
    repo.git('checkout', '-q', 'feature');
    expect(repo.git('checkout', 'main').stderr).toContain('lacks 1 migration the database has applied: 3\n');
    expect(JSON.parse(repo.dbguard(['db', 'status', '--json']).stdout).running).toBe(false);
  });

  it('the down SQL the hook found in the previous tree is kept in the tracking table', async () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    featureAppliedByTheApp(repo, url);
    expect(repo.dbguard(['db', 'stop']).status).toBe(0);
    expect(repo.git('checkout', 'main').stderr).toContain('lacks 1 migration the database has applied: 3');
    const url2 = databaseUrl(repo);
    expect(await sql(url2, "SELECT version::text, source, down_sql FROM _dbguard.applied_migrations WHERE version = 3")).toEqual([
      { version: '3', source: 'previous-tree', down_sql: tableMigration(3, 'three')['3_create_three.down.sql'] },
    ]);
  });

  it('a migration the app applied is not called new: the hook asks the running database and captures it (issue 26.7b)', async () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    featureAppliedByTheApp(repo, url);
    repo.git('checkout', '-q', '-b', 'side');
    repo.commitFile('NOTES.md', 'side', 'side');
    const toFeature = repo.git('checkout', 'feature');
    expect(toFeature.stderr).not.toContain('new migration');
    expect(toFeature.stderr).toContain('dbguard: 3 was applied without dbguard (your app?): its down SQL is captured from the working tree');
    expect(await sql(url, 'SELECT version::text, source FROM _dbguard.applied_migrations WHERE version = 3')).toEqual([{ version: '3', source: 'working-tree' }]);
    // A file the database has not applied is still new.
    repo.write('migrations/4_create_four.up.sql', 'CREATE TABLE four (id int);');
    repo.write('migrations/4_create_four.down.sql', 'DROP TABLE four;');
    repo.git('add', '-A');
    repo.git('commit', '-q', '-m', 'four');
    repo.git('checkout', '-q', 'side');
    expect(repo.git('checkout', 'feature').stderr).toContain('dbguard: 1 new migration here (4): dbguard migrate');
  });

  it('git stash -u takes away a migration only the app applied: the next checkout asks the database and names it; rollback finds it in the stash (issue 26.7a)', async () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'side');
    repo.commitFile('NOTES.md', 'side', 'side');
    repo.git('checkout', '-q', 'main');
    // An uncommitted migration the app applies (dbguard never sees it), then stashed away with the rest of the work.
    repo.write('migrations/3_wip.up.sql', 'CREATE TABLE wip (id int);');
    repo.write('migrations/3_wip.down.sql', 'DROP TABLE wip;');
    appMigratesAndExits(repo, url);
    expect(repo.dbguard(['db', 'stop']).status).toBe(0);
    repo.git('stash', '-q', '-u');
    const checkout = repo.git('checkout', 'side');
    expect(checkout.stderr).toContain('dbguard: this branch lacks 1 migration the database has applied: 3 (checked the database: 3 was taken away by git stash and the cache did not list it)');
    const check = repo.dbguard(['check']);
    expect(check.stdout).toContain('3  3_wip.up.sql  missing');
    expect(check.status).toBe(1);
    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect(status.plan.kind).toBe('rollback');
    expect(status.plan.steps.map((s: { version: string }) => s.version)).toEqual(['3']);
    const rolled = repo.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr).toBe(0);
    const after = databaseUrl(repo);
    expect(await sql(after, 'SELECT version::text FROM schema_migrations')).toEqual([{ version: '2' }]);
    expect(await sql(after, "SELECT to_regclass('public.wip')::text AS t")).toEqual([{ t: null }]);
  });

  it('after git stash -u, status (the next command, no checkout between) names the stashed file and plans its rollback from the stash', () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.write('migrations/3_wip.up.sql', 'CREATE TABLE wip (id int);');
    repo.write('migrations/3_wip.down.sql', 'DROP TABLE wip;');
    appMigratesAndExits(repo, url);
    repo.git('stash', '-q', '-u');
    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect(status.plan.kind).toBe('rollback');
    expect(status.plan.steps.map((s: { version: string; filename: string; downSqlSource: string }) => [s.version, s.filename, s.downSqlSource]))
      .toEqual([['3', '3_wip.up.sql', 'git-history']]);
  });

  it('with "onConflict": "rollback" the checkout rolls it back, keeping its rows for the next migrate', async () => {
    const repo = embeddedRepo({ onConflict: 'rollback' });
    const url = databaseUrl(repo);
    featureAppliedByTheApp(repo, url);
    await sql(url, "INSERT INTO three (note) VALUES ('made on feature')");
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain('rolled back 1 migration; database at 2');
    expect(await sql(url, 'SELECT version::text FROM schema_migrations')).toEqual([{ version: '2' }]);
    repo.git('checkout', '-q', 'feature');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await sql(url, 'SELECT note FROM three')).toEqual([{ note: 'made on feature' }]);
  });

  it('the rows come back when the app applies it again (capture), also after _dbguard was dropped by hand (issue 18.10a)', async () => {
    const repo = embeddedRepo({ onConflict: 'rollback' });
    const url = databaseUrl(repo);
    featureAppliedByTheApp(repo, url);
    await sql(url, 'DROP SCHEMA _dbguard CASCADE');
    await sql(url, "INSERT INTO three (note) VALUES ('made on feature')");
    expect(repo.git('checkout', 'main').stderr).toContain('kept 1 row of public.three in the stash');
    const kept = await sql<{ sha: string | null }>(url, 'SELECT up_sha256 AS sha FROM _dbguard.stash');
    expect(kept[0]?.sha).toMatch(/^[0-9a-f]{64}$/);
    repo.git('checkout', '-q', 'feature');
    expect(repo.dbguard(['status']).stdout).toContain('back when applied again');
    appMigratesAndExits(repo, url);
    const captured = repo.dbguard(['capture']);
    expect(captured.stdout).toContain('table public.three: 1 of 1 rows put back');
    expect(await sql(url, 'SELECT note FROM three')).toEqual([{ note: 'made on feature' }]);
    expect(await sql(url, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 0 }]);
  });

  it('a migrate killed after a committed step (the cache one version behind) is caught the same way', async () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two'), ...tableMigration(3, 'three') }, 'three');
    const cacheFile = join(repo.root, '.dbguard', 'migration_cache.json');
    const before = spawnSync('cat', [cacheFile], { encoding: 'utf8' }).stdout;
    expect(repo.dbguard(['migrate']).status).toBe(0);
    // What a SIGKILL between the commit and the cache write leaves: the database at 3, the cache at 2.
    spawnSync('sh', ['-c', `printf '%s' "$1" > "$2"`, 'sh', before, cacheFile]);
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain('lacks 1 migration the database has applied: 3');
    expect(await sql(url, 'SELECT version::text FROM schema_migrations')).toEqual([{ version: '3' }]);
  });
});

function startApp(repo: GitRepo, url: string): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [APP, 'migrations'], { cwd: repo.root, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cleanups.push(() => child.kill('SIGKILL'));
  return Object.assign(child, { output: () => output });
}

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  for (const started = Date.now(); !what(); ) {
    if (Date.now() - started > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Queries the app answered after `mark` (its output's length when it was taken). */
const answeredSince = (app: { output: () => string }, mark: number) => app.output().slice(mark).split('\n').filter((l) => l === 'query ok').length;

describe('story 2: a connected app does not stop a rollback', () => {
  it('the hook rolls back with the app connected: no snapshot (said in one line), rows kept, the app keeps querying', async () => {
    const repo = embeddedRepo({ onConflict: 'rollback' });
    const url = databaseUrl(repo);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two'), ...tableMigration(3, 'three') }, 'three');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await sql(url, "INSERT INTO three (note) VALUES ('kept'), ('also kept')");
    const app = startApp(repo, url);
    await until(() => app.output().includes('query ok'));
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain('rolled back 1 migration; database at 2');
    expect(checkout.stderr).toMatch(/no snapshot \(other sessions use the database: a client \(pid \d+\)/);
    expect(checkout.stderr).toContain('"snapshots": { "disconnect": true }');
    const mark = app.output().length;
    await until(() => answeredSince(app, mark) >= 2);
    repo.git('checkout', '-q', 'feature');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await sql(url, 'SELECT note FROM three ORDER BY id')).toEqual([{ note: 'kept' }, { note: 'also kept' }]);
  });

  it('--disconnect ends the app\'s sessions for the snapshot (its pool reconnects); undo needs it too', async () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two'), ...tableMigration(3, 'three') }, 'three');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await sql(url, "INSERT INTO three (note) VALUES ('in the snapshot')");
    const app = startApp(repo, url);
    await until(() => app.output().includes('query ok'));
    repo.git('checkout', '-q', 'main');
    const rolled = repo.dbguard(['rollback', '--yes', '--disconnect']);
    expect(rolled.status, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain('undo: dbguard undo   (restores snapshot rollback-');
    let mark = app.output().length;
    await until(() => answeredSince(app, mark) >= 2);
    const refused = repo.dbguard(['undo']);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain('error[SNAPSHOT_UNAVAILABLE] cannot restore');
    expect(refused.stderr).toContain('--disconnect');
    const undone = repo.dbguard(['undo', '--disconnect']);
    expect(undone.status, undone.stderr).toBe(0);
    expect(await sql(url, 'SELECT note FROM three')).toEqual([{ note: 'in the snapshot' }]);
    mark = app.output().length;
    await until(() => answeredSince(app, mark) >= 2);
    expect(await sql(url, 'SELECT datallowconn FROM pg_database WHERE datname = current_database()')).toEqual([{ datallowconn: true }]);
  });
});

describe('story 3: dbguard run -- <app>', () => {
  const tracked = async (url: string) => (await sql<{ version: string; has: boolean }>(url, 'SELECT version::text, down_sql IS NOT NULL AS has FROM _dbguard.applied_migrations ORDER BY version')).map((r) => `${r.version}${r.has ? '' : ' (no down)'}`);

  it('captures what the app applies while it runs, forwards Ctrl-C, stops the server it started, and the next checkout warns', async () => {
    const repo = embeddedRepo();
    const url = databaseUrl(repo);
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(repo.dbguard(['db', 'stop']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two'), ...tableMigration(3, 'three') }, 'three');
    const running = spawn(process.execPath, [join(repo.root, 'node_modules', '.bin', 'dbguard'), 'run', '--', process.execPath, APP, 'migrations'], {
      cwd: repo.root, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => running.kill('SIGKILL'));
    let output = '';
    running.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    running.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => output.includes('query ok'));
    // Within a second or so of the app's migrator, without any dbguard command: down SQL of 3 is stored.
    const started = Date.now();
    for (;;) {
      if ((await tracked(url).catch((): string[] => [])).includes('3')) break;
      expect(Date.now() - started).toBeLessThan(5_000);
      await new Promise((r) => setTimeout(r, 100));
    }
    const exited = new Promise<number | null>((r) => running.once('exit', (code) => r(code)));
    running.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(JSON.parse(repo.dbguard(['db', 'status', '--json']).stdout).running).toBe(false);
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain('lacks 1 migration the database has applied: 3');
    // On a conflict the app is not started: exit 1 with the plan and the choices.
    const refused = repo.dbguard(['run', '--', process.execPath, APP, 'migrations']);
    expect(refused.status).toBe(1);
    expect(refused.stdout).not.toContain('migrated');
    expect(refused.stderr).toContain('dbguard run --rollback --');
    // --rollback rolls back first, then starts it (here one that exits right after migrating).
    const rolled = repo.dbguard(['run', '--rollback', '--', process.execPath, APP, 'migrations'], { APP_EXIT_AFTER_MIGRATE: '1' });
    expect(rolled.status, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain('migrated 2');
  });

  it('passes the command\'s exit code through and still captures; bad input is a usage error or 127', async () => {
    const repo = embeddedRepo();
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two'), ...tableMigration(3, 'three') }, 'three');
    const failing = repo.dbguard(['run', '--', 'sh', '-c', `"${process.execPath}" "${APP}" migrations && exit 3`], { APP_EXIT_AFTER_MIGRATE: '1' });
    expect(failing.status).toBe(3);
    expect(failing.stderr).toContain('dbguard: captured down SQL for 1, 2, 3');
    const url = databaseUrl(repo);
    expect(await tracked(url)).toEqual(['1', '2', '3']);
    expect(repo.dbguard(['run']).status).toBe(2);
    const missing = repo.dbguard(['run', '--', 'no-such-command-here']);
    expect(missing.status).toBe(127);
    expect(missing.stderr).toContain('error[COMMAND_NOT_STARTED] could not start "no-such-command-here": no such command');
  });
});

describe('story 4: two dbguard run in one checkout share the server (issue 25.5)', () => {
  const BIN = join(import.meta.dirname, '..', '..', 'dist', 'bin.js');
  /** `dbguard run -- node app.js migrations`, as a develop script starts it; `exit()` sends SIGINT and waits. */
  function startRun(repo: GitRepo): { output: () => string; exit: () => Promise<number | null> } {
    const running = spawn(process.execPath, [BIN, 'run', '--', process.execPath, APP, 'migrations'], {
      cwd: repo.root, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => running.kill('SIGKILL'));
    let output = '';
    running.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    running.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((r) => running.once('exit', (code) => r(code)));
    return { output: () => output, exit: () => (running.kill('SIGINT'), exited) };
  }
  const serverRunning = (repo: GitRepo) => JSON.parse(repo.dbguard(['db', 'status', '--json']).stdout).running as boolean;
  const failedSince = (app: { output: () => string }, mark: number) => app.output().slice(mark).split('\n').filter((l) => l.startsWith('query failed'));

  it('the first run to exit leaves the server to the second one\'s app; the last one out stops it', async () => {
    const repo = embeddedRepo();
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(serverRunning(repo)).toBe(false);
    const first = startRun(repo);
    await until(() => first.output().includes('query ok'), 30_000);
    const second = startRun(repo);
    await until(() => second.output().includes('query ok'), 30_000);
    expect(await first.exit()).toBe(0);
    expect(first.output()).toMatch(/dbguard: the embedded database stays up for the other dbguard run \(pid \d+\)/);
    const mark = second.output().length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(failedSince(second, mark)).toEqual([]);
    expect(answeredSince(second, mark)).toBeGreaterThanOrEqual(3);
    expect(serverRunning(repo)).toBe(true);
    expect(await second.exit()).toBe(0);
    expect(serverRunning(repo)).toBe(false);
  });

  it('stays up for another client, and for a server started with dbguard db start', async () => {
    const repo = embeddedRepo();
    expect(repo.dbguard(['migrate']).status).toBe(0);
    const only = startRun(repo);
    await until(() => only.output().includes('query ok'), 30_000);
    // A psql of the developer's, on the URL dbguard db url gives.
    const psql = new pg.Client({ connectionString: repo.dbguard(['db', 'url', '--show-password']).stdout.trim(), application_name: 'psql' });
    psql.on('error', () => undefined);
    await psql.connect();
    cleanups.push(() => void psql.end().catch(() => undefined));
    expect(await only.exit()).toBe(0);
    expect(only.output()).toMatch(/left the embedded database running: other sessions use it: psql \(pid \d+\); dbguard db stop stops it/);
    expect((await psql.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await psql.end();
    // Started by the developer: no run stops it.
    expect(repo.dbguard(['db', 'start']).status).toBe(0);
    const again = startRun(repo);
    await until(() => again.output().includes('query ok'), 30_000);
    expect(await again.exit()).toBe(0);
    expect(serverRunning(repo)).toBe(true);
  });
});
