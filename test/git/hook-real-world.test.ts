/**
 * Issue 10: the hooks in the projects our users have (a Go service with no node_modules, a worktree, a
 * monorepo), through rebases and amends, with a database another session holds, and fast.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adminClient, createDatabase, query, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { base, BIN, branchA, branchB, branchedRepo, GitRepo, run } from '../helpers/git.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).reverse().forEach((c) => c()));

function track(repo: GitRepo): GitRepo {
  cleanups.push(() => repo.cleanup());
  return repo;
}

/** A folder standing in for `npm i -g dbguard`'s bin: `dbguard` linked to the built CLI. */
function globalBin(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dbguard-global-'));
  symlinkSync(BIN, join(dir, 'dbguard'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const LACKS = 'lacks 2 migrations the database has applied: 447, 446';

/** main (445), b (450), a (446, 447) applied and checked out; no node_modules anywhere. */
async function goProject(config: Record<string, unknown> = {}): Promise<{ repo: GitRepo; db: string }> {
  const db = await createDatabase();
  const repo = track(GitRepo.create({ nodeModules: false }));
  repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, ...config }));
  repo.commitMigrations(base, 'base');
  repo.git('checkout', '-q', '-b', 'b');
  repo.commitMigrations(branchB, 'b');
  repo.git('checkout', '-q', 'main');
  repo.git('checkout', '-q', '-b', 'a');
  repo.commitMigrations(branchA, 'a');
  expect(repo.dbguard(['migrate']).status).toBe(0);
  return { repo, db };
}

describe('finding dbguard from the hook', () => {
  it('a global install on PATH, no node_modules: the check runs and npx is never called', async () => {
    const { repo } = await goProject();
    const bin = globalBin();
    const path = `${bin}:${process.env.PATH}`;
    expect(run('dbguard', ['hooks', 'install'], repo.root, { PATH: path }).status).toBe(0);
    repo.git('config', '--unset', 'dbguard.bin'); // only PATH is left to find it by
    const status = JSON.parse(run('dbguard', ['hooks', 'status', '--json'], repo.root, { PATH: path }).stdout);
    expect(status.runner).toEqual({ kind: 'path', path: join(bin, 'dbguard') });
    const checkout = repo.gitWith({ PATH: path }, 'checkout', 'b');
    expect(checkout.stderr).toContain(LACKS);
    expect(checkout.stderr).not.toMatch(/npm (error|ERR)/);
  });

  it('the path recorded by hooks install works with dbguard off PATH', async () => {
    const { repo } = await goProject();
    const bin = globalBin();
    expect(run('dbguard', ['hooks', 'install'], repo.root, { PATH: `${bin}:${process.env.PATH}` }).status).toBe(0);
    expect(repo.git('config', '--get', 'dbguard.bin').stdout.trim()).toBe(BIN);
    const status = JSON.parse(repo.dbguard(['hooks', 'status', '--json']).stdout);
    expect(status.runner).toEqual({ kind: 'recorded', path: BIN });
    expect(repo.git('checkout', 'b').stderr).toContain(LACKS);
  });

  it('not found anywhere: one line, and git succeeds', async () => {
    const { repo } = await goProject();
    repo.dbguard(['hooks', 'install']);
    repo.git('config', '--unset', 'dbguard.bin');
    const checkout = repo.git('checkout', 'b');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr.split('\n').filter((l) => l.includes('dbguard'))).toEqual(['dbguard: not found, hook skipped: npm i -g dbguard']);
    expect(JSON.parse(repo.dbguard(['hooks', 'status', '--json']).stdout).runner.kind).toBe('none');
  });

  it('a linked worktree (git worktree add) runs the check against its own state', async () => {
    const { repo } = await goProject();
    repo.dbguard(['hooks', 'install']);
    const worktree = join(mkdtempSync(join(tmpdir(), 'dbguard-wt-')), 'wt');
    cleanups.push(() => rmSync(join(worktree, '..'), { recursive: true, force: true }));
    repo.git('worktree', 'add', '-q', '-b', 'wt-a', worktree, 'a');
    const wt = new GitRepo(worktree);
    expect(wt.dbguard(['capture']).status).toBe(0); // the worktree's own cache, from the shared database
    const checkout = wt.git('checkout', 'b');
    expect(checkout.stderr).toContain(LACKS);
    expect(existsSync(join(worktree, '.dbguard'))).toBe(true);
  });

  it('a monorepo whose dbguard lives in packages/api (config and node_modules there)', async () => {
    const db = await createDatabase();
    const repo = track(GitRepo.create({ nodeModules: false }));
    const api = join(repo.root, 'packages', 'api');
    mkdirSync(join(api, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(BIN, join(api, 'node_modules', '.bin', 'dbguard'));
    mkdirSync(join(api, 'db'));
    writeFileSync(join(api, 'dbguard.config.json'), JSON.stringify({ database: { url: urlFor(db) }, migrationsDir: 'db' }));
    const commit = (files: Record<string, string>, message: string) => {
      for (const name of readdirSync(join(api, 'db'))) unlinkSync(join(api, 'db', name));
      for (const [name, sql] of Object.entries(files)) writeFileSync(join(api, 'db', name), sql);
      repo.git('add', '-A');
      repo.git('commit', '-q', '-m', message);
    };
    commit(base, 'base');
    expect(repo.dbguard(['hooks', 'install'], {}, undefined, api).status).toBe(0);
    expect(repo.git('config', '--get', 'dbguard.project').stdout.trim()).toBe('packages/api');
    repo.git('checkout', '-q', '-b', 'a');
    commit(branchA, 'a');
    expect(repo.dbguard(['migrate'], {}, undefined, api).status).toBe(0);
    expect(repo.git('checkout', 'main').stderr).toContain(LACKS);
  });
});

/** A new commit on main made without checking main out (which would itself be a branch switch). */
function advanceMain(repo: GitRepo, message: string): void {
  const tree = repo.git('rev-parse', 'main^{tree}').stdout.trim();
  const commit = repo.git('commit-tree', tree, '-p', 'main', '-m', message).stdout.trim();
  repo.git('update-ref', 'refs/heads/main', commit);
}

describe('rebases keep the branch\'s migrations', () => {
  for (const onConflict of ['rollback', 'warn'] as const) {
    it(`git rebase main with onConflict "${onConflict}": no rollback, no false warning, rows kept`, async () => {
      const { repo, db } = await branchedRepo({ onConflict });
      track(repo);
      await query(db, "INSERT INTO a_two (note) VALUES ('weeks of test data')");
      advanceMain(repo, 'main moves');
      const rebase = repo.git('rebase', 'main');
      expect(rebase.status).toBe(0);
      expect(rebase.stderr).not.toContain('lacks');
      expect(rebase.stderr).not.toContain('rolled back');
      expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
      expect(await query(db, 'SELECT note FROM a_two')).toEqual([{ note: 'weeks of test data' }]);
    });
  }

  it('git pull --rebase with auto-rollback keeps the table and its rows', async () => {
    const db = await createDatabase();
    const origin = track(GitRepo.create({ nodeModules: false })); // the team's repository: no hooks of ours
    origin.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, onConflict: 'rollback' }));
    origin.commitMigrations(base, 'base');
    const cloneRoot = mkdtempSync(join(tmpdir(), 'dbguard-clone-'));
    cleanups.push(() => rmSync(cloneRoot, { recursive: true, force: true }));
    run('git', ['clone', '-q', origin.root, join(cloneRoot, 'c')], cloneRoot);
    const clone = new GitRepo(join(cloneRoot, 'c'));
    clone.configureUser();
    expect(clone.dbguard(['hooks', 'install']).status).toBe(0); // recorded path: no node_modules here either
    expect(clone.dbguard(['migrate']).status).toBe(0);
    clone.git('checkout', '-q', '-b', 'feature', '--track', 'origin/main');
    clone.commitMigrations({ ...base, ...tableMigration(446, 'feature_t') }, 'feature 446');
    expect(clone.dbguard(['migrate']).status).toBe(0);
    await query(db, "INSERT INTO feature_t (note) VALUES ('kept')");
    origin.commitFile('NOTES.md', 'upstream moved', 'upstream');
    const pull = clone.git('pull', '--rebase', '-q');
    expect(pull.status).toBe(0);
    expect(pull.stderr).not.toContain('rolled back');
    expect(pull.stderr).not.toContain('lacks');
    expect(existsSync(join(clone.root, 'NOTES.md'))).toBe(true);
    expect(await schemaVersion(db)).toEqual({ version: '446', dirty: false });
    expect(await query(db, 'SELECT note FROM feature_t')).toEqual([{ note: 'kept' }]);
  });

  it('commit --amend and rebase reach post-rewrite with the old and new commits', async () => {
    const { repo } = await branchedRepo();
    track(repo);
    const debug = { DEBUG: 'dbguard' };
    const before = repo.git('rev-parse', 'HEAD').stdout.trim();
    const amend = repo.gitWith(debug, 'commit', '-q', '--amend', '-m', 'a, reworded');
    const after = repo.git('rev-parse', 'HEAD').stdout.trim();
    expect(amend.stderr).toContain(`dbguard: post-rewrite ${before} -> ${after}`);

    advanceMain(repo, 'main moves');
    const oldTip = repo.git('rev-parse', 'HEAD').stdout.trim();
    const rebase = repo.gitWith(debug, 'rebase', 'main');
    const newTip = repo.git('rev-parse', 'HEAD').stdout.trim();
    expect(rebase.stderr).toContain(`dbguard: post-rewrite ${oldTip} -> ${newTip}`);
    expect(rebase.stderr).not.toContain('dbguard: post-checkout'); // the rebase's own checkouts never act
  });
});

describe('detached checkouts and bisect', () => {
  it('a detached HEAD is "this checkout"; during bisect the hook warns and never rolls back', async () => {
    const { repo, db } = await branchedRepo({ onConflict: 'rollback' });
    track(repo);
    const b = repo.git('rev-parse', 'b').stdout.trim();
    repo.git('checkout', '-q', 'a');
    repo.git('bisect', 'start');
    const bisecting = repo.git('checkout', b);
    expect(bisecting.stderr).toContain('dbguard: this checkout lacks 2 migrations the database has applied: 447, 446');
    expect(bisecting.stderr).not.toContain('rolled back');
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
    repo.git('bisect', 'reset');
    repo.git('checkout', '-q', 'a');
    const detached = repo.git('checkout', b); // not bisecting: the configured auto-rollback runs
    expect(detached.stderr).toContain('dbguard: this checkout lacks migrations the database has applied; rolling them back');
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });
});

describe('bounded, cheap, and honest hooks', () => {
  async function holdTable(db: string, table: string): Promise<() => Promise<void>> {
    const app = await adminClient(db);
    await app.query(`BEGIN; SELECT * FROM ${table}`); // an app idle in a transaction
    return async () => {
      await app.query('ROLLBACK');
      await app.end();
    };
  }

  /**
   * A checkout while the app sits in a transaction on a_two: the hook must come back quickly, leaving the
   * database where it was; once the app is gone a rollback finishes the job. Returns what the hook said.
   */
  async function checkoutWhileAppHoldsATable(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
    const { repo, db } = await branchedRepo({ onConflict: 'rollback', ...config });
    track(repo);
    const release = await holdTable(db, 'a_two');
    let stderr: string;
    try {
      const started = Date.now();
      const checkout = repo.gitWith(env, 'checkout', 'b');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(checkout.status).toBe(0);
      stderr = checkout.stderr;
      expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
    } finally {
      await release();
    }
    expect(repo.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
    return stderr;
  }

  const bounds = [
    ['lock_timeout', { DBGUARD_PG_LOCK_TIMEOUT_MS: '300' }, 'another session holds a lock'],
    ['the hook deadline', { DBGUARD_HOOK_TIMEOUT_MS: '1500' }, 'time limit'],
  ] as const;
  for (const [label, env, why] of bounds) {
    it(`a hook blocked by another session's lock returns by ${label}, at a consistent version, saying what to run`, async () => {
      // Without snapshots; with them the rollback goes on without one while the app is connected (the next test).
      const stderr = await checkoutWhileAppHoldsATable({ snapshots: false }, env);
      expect(stderr).toContain('STEP_FAILED');
      expect(stderr).toContain(why);
      expect(stderr).toContain('dbguard rollback');
    });
  }

  it('with snapshots on, a connected app does not stop the hook (§14): no snapshot, said in one line; its lock stops the step, naming it', async () => {
    const stderr = await checkoutWhileAppHoldsATable({}, { DBGUARD_PG_LOCK_TIMEOUT_MS: '300' });
    expect(stderr).not.toContain('SNAPSHOT_UNAVAILABLE');
    expect(stderr).toContain('STEP_FAILED');
    expect(stderr).toMatch(/held by a client \(pid \d+, idle in a transaction\): end that session's open transaction/);
  });

  it('after a clean check the shim answers a checkout that keeps the migrations without starting node', async () => {
    const { repo } = await branchedRepo();
    track(repo);
    repo.git('checkout', '-q', '-b', 'a-docs');
    repo.commitFile('NOTES.md', 'docs only', 'docs');
    repo.git('checkout', '-q', 'a'); // a clean check, remembered for the shim
    const ran = join(repo.root, 'node-ran');
    const shim = join(repo.root, 'node_modules', '.bin', 'dbguard');
    unlinkSync(shim);
    writeFileSync(shim, `#!/bin/sh\ntouch "${ran}"\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
    repo.git('checkout', '-q', 'a-docs');
    repo.git('checkout', '-q', 'a');
    expect(existsSync(ran)).toBe(false);
    const toB = repo.git('checkout', 'b'); // the migrations differ: node runs and warns
    expect(existsSync(ran)).toBe(true);
    expect(toB.stderr).toContain(LACKS);
    rmSync(ran);
    repo.git('checkout', '-q', 'a');
    expect(repo.dbguard(['capture']).status).toBe(0); // a cache write takes the shim's marker away
    repo.git('checkout', '-q', 'a-docs');
    expect(existsSync(ran)).toBe(true);
  });

  it('down SQL found nowhere is searched for once, not on every checkout; hook errors keep their code', async () => {
    const db = await createDatabase();
    const repo = track(GitRepo.create());
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    repo.commitMigrations({ ...base, '446_add.up.sql': 'CREATE TABLE a_one (id int);' }, 'base, 446 without a down file');
    repo.dbguard(['hooks', 'install']);
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'docs');
    repo.write('migrations/README.md', 'how to write a migration'); // the folder differs: node runs each time
    repo.git('add', '-A');
    repo.git('commit', '-q', '-m', 'docs');
    const admin = await adminClient();
    try {
      expect(repo.git('checkout', 'main').stderr).not.toContain('dbguard'); // searched (Postgres reached), nothing found
      await admin.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS false`);
      const again = repo.git('checkout', 'docs');
      expect(again.stderr).not.toContain('dbguard'); // remembered: no connection attempted
      // A missing applied file with auto-rollback needs the database: its error keeps code and hint.
      repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, onConflict: 'rollback' }));
      repo.git('checkout', '-q', '-b', 'gone');
      repo.commitMigrations(base, 'drop 446');
      repo.git('checkout', '-q', 'docs');
      const failing = repo.git('checkout', 'gone');
      expect(failing.status).toBe(0);
      expect(failing.stderr).toMatch(/dbguard: DB_CONNECT_FAILED: .*\n {2}next: /);
    } finally {
      await admin.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS true`);
      await admin.end();
    }
  });
});
