/**
 * Issue 28 (and 29's prune): nothing is lost, nothing leaks. `git worktree remove` and `git branch -D`
 * run no hook, so `dbguard db list` and `db prune` tell from git what is gone: a gone database is kept
 * until `db prune`, never dropped with a session, and nothing at all when git cannot list.
 * The kept databases are made here as the worktree and branch work makes them: CREATE DATABASE and the
 * comment (src/db/kept-databases.ts), named by src/core/kept-database.ts after a real `git worktree add`.
 */
import { mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { savedBranchDatabaseName, worktreeDatabaseName, type KeptDatabaseMeta } from '../../src/core/kept-database.js';
import { quoteIdentifier } from '../../src/db/client.js';
import { writeKeptComment } from '../../src/db/kept-databases.js';
import { adminClient, createDatabase, query, tableMigration, urlFor } from '../helpers/db.js';
import { GitRepo, inTerminal, repoOnNewDatabase } from '../helpers/git.js';

const repos: GitRepo[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const repo of repos.splice(0)) repo.cleanup();
  cleanups.splice(0).reverse().forEach((c) => c());
});

/** A folder for worktrees, beside the repository, removed after the test. */
function worktreesHome(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'dbguard-wts-')));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A kept database as the worktree and branch work makes it: created, a row in it, then its comment. */
async function keptDatabase(name: string, meta: Omit<KeptDatabaseMeta, 'createdAt' | 'source'> & { source?: string }): Promise<void> {
  const admin = await adminClient();
  try {
    await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
    await writeKeptComment(admin, name, { source: null, ...meta, createdAt: new Date().toISOString() });
  } finally {
    await admin.end();
  }
  await query(name, 'CREATE TABLE rows_of_my_own (id int); INSERT INTO rows_of_my_own VALUES (1)');
}

async function exists(name: string): Promise<boolean> {
  return (await query('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;
}

interface Listed { name: string; kind: string; worktree: string | null; branch: string | null; bytes: number; sessions: number; lastUsedAt: string | null; worktreeExists: boolean | null; branchExists: boolean | null; gone: string | null }

function listJson(repo: GitRepo, env: NodeJS.ProcessEnv = {}): { status: number; doc: { databases: Listed[]; git: { listed: boolean; problem: string | null }; totalBytes: number } } {
  const result = repo.dbguard(['db', 'list', '--json'], env);
  return { status: result.status, doc: JSON.parse(result.stdout) };
}

/** A project on its own database with a linked worktree (path with spaces, quotes, `$(…)` and unicode) and its kept database. */
async function projectWithWorktree(): Promise<{ repo: GitRepo; db: string; worktree: string; wtDb: string }> {
  const { repo, db } = await repoOnNewDatabase(repos, tableMigration(1, 'people'));
  expect(repo.dbguard(['migrate']).status).toBe(0);
  const worktree = join(worktreesHome(), `agent "one" $(touch x) ü ${'ö'.repeat(3)}`);
  repo.git('worktree', 'add', '-q', worktree, '-b', 'agent1');
  const wtDb = worktreeDatabaseName(db, realpathSync(worktree));
  await keptDatabase(wtDb, { kind: 'worktree', worktree: realpathSync(worktree), branch: 'agent1', source: db });
  return { repo, db, worktree, wtDb };
}

describe('db list and db prune after git worktree remove', () => {
  it('lists the worktree database as in use, then as removable with its size; --dry-run drops nothing, --yes drops it', async () => {
    const { repo, db, worktree, wtDb } = await projectWithWorktree();

    const before = listJson(repo);
    expect(before.status).toBe(0);
    expect(before.doc.git.listed).toBe(true);
    const main = before.doc.databases.find((d) => d.name === db);
    expect(main).toMatchObject({ kind: 'main', worktree: realpathSync(repo.root), branch: 'main', worktreeExists: true, gone: null });
    expect(before.doc.databases.find((d) => d.name === wtDb)).toMatchObject({ kind: 'worktree', worktree: realpathSync(worktree), branch: 'agent1', worktreeExists: true, gone: null, sessions: 0 });
    expect(repo.dbguard(['db', 'prune', '--yes']).stdout).toContain('nothing to prune');
    expect(await exists(wtDb)).toBe(true);
    expect(repo.dbguard(['status']).stdout).not.toContain('removed worktrees');

    repo.git('worktree', 'remove', '--force', worktree);
    const status = repo.dbguard(['status']);
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/ {2}databases {4}1 of removed worktrees or deleted branches \(\d+(\.\d)? MB\): dbguard db prune --dry-run\n/);
    const after = listJson(repo);
    const gone = after.doc.databases.find((d) => d.name === wtDb) as Listed;
    expect(gone).toMatchObject({ worktreeExists: false, gone: 'worktree-removed', sessions: 0 });
    expect(gone.bytes).toBeGreaterThan(1_000_000);
    expect(Date.parse(gone.lastUsedAt as string)).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(after.doc.totalBytes).toBeGreaterThanOrEqual(gone.bytes + (main?.bytes ?? 0));
    const text = repo.dbguard(['db', 'list']);
    expect(text.stdout).toContain(`${worktree} (removed) on agent1  removable: its worktree was removed`);
    expect(text.stdout).toMatch(/total \d+(\.\d)? MB; 1 removable \(\d+(\.\d)? MB\): dbguard db prune --dry-run/);

    const dry = repo.dbguard(['db', 'prune', '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain(`${wtDb}`);
    expect(dry.stdout).toContain('dry run: nothing was dropped');
    expect(await exists(wtDb)).toBe(true);

    const noTerminal = repo.dbguard(['db', 'prune']);
    expect(noTerminal.status).toBe(2);
    expect(noTerminal.stderr).toContain('error[NOT_A_TTY]');
    expect(await exists(wtDb)).toBe(true);

    const pruned = repo.dbguard(['db', 'prune', '--yes']);
    expect(pruned.status, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain(`dropped 1 database`);
    expect(await exists(wtDb)).toBe(false);
    expect(await exists(db)).toBe(true);
    expect(await query(db, 'SELECT count(*)::int AS n FROM people')).toEqual([{ n: 0 }]);
  });

  it('on a terminal, asks first: "n" drops nothing (exit 3), "y" drops it', async () => {
    const { repo, worktree, wtDb } = await projectWithWorktree();
    repo.git('worktree', 'remove', '--force', worktree);
    const declined = inTerminal(repo, ['db', 'prune'], 'n\n');
    expect(declined.stdout).toMatch(/Drop 1 database \(\d+(\.\d)? MB\)\? They cannot be brought back\. \[y\/N\]/);
    expect(declined.stdout).toContain('error[ABORTED] prune cancelled; nothing was dropped');
    expect(declined.status).toBe(3);
    expect(await exists(wtDb)).toBe(true);
    const accepted = inTerminal(repo, ['db', 'prune'], 'y\n');
    expect(accepted.status, accepted.stdout).toBe(0);
    expect(await exists(wtDb)).toBe(false);
  });

  it('never drops a database a session is connected to: it is kept, named, exit 1; dropped once the session ends', async () => {
    const { repo, worktree, wtDb } = await projectWithWorktree();
    repo.git('worktree', 'remove', '--force', worktree);
    const app = new pg.Client({ connectionString: urlFor(wtDb) });
    await app.connect();
    try {
      expect(listJson(repo).doc.databases.find((d) => d.name === wtDb)).toMatchObject({ gone: 'worktree-removed', sessions: 1 });
      const busy = repo.dbguard(['db', 'prune', '--yes', '--json']);
      expect(busy.status).toBe(1);
      const doc = JSON.parse(busy.stdout);
      expect(doc.ok).toBe(false);
      expect(doc.inUse.map((d: Listed) => d.name)).toEqual([wtDb]);
      expect(doc.dropped).toEqual([]);
      const text = repo.dbguard(['db', 'prune', '--yes']);
      expect(text.stderr).toContain(`kept ${wtDb}: a session is connected to it (end it, then dbguard db prune)`);
      expect((await app.query('SELECT id FROM rows_of_my_own')).rows).toEqual([{ id: 1 }]);
    } finally {
      await app.end();
    }
    expect(repo.dbguard(['db', 'prune', '--yes']).status).toBe(0);
    expect(await exists(wtDb)).toBe(false);
  });
});

describe('when git cannot say what exists, nothing is gone', () => {
  it('git missing from PATH: prune refuses (WORKTREES_UNKNOWN, exit 4) and drops nothing; list shows nothing removable', async () => {
    const { repo, worktree, wtDb } = await projectWithWorktree();
    repo.git('worktree', 'remove', '--force', worktree);
    const noGit = { PATH: '/nonexistent-dbguard-test' };
    const refused = repo.dbguard(['db', 'prune', '--yes'], noGit);
    expect(refused.status).toBe(4);
    expect(refused.stderr).toContain('error[WORKTREES_UNKNOWN] git could not list this repository\'s worktrees (git worktree list failed: git was not found on PATH), so nothing is treated as removed; nothing was dropped');
    expect(refused.stderr).toContain('next: run git worktree list to see why');
    expect(repo.dbguard(['db', 'prune', '--dry-run'], noGit).status).toBe(4);
    expect(await exists(wtDb)).toBe(true);
    const listed = listJson(repo, noGit);
    expect(listed.status).toBe(0);
    expect(listed.doc.git.listed).toBe(false);
    expect(listed.doc.databases.find((d) => d.name === wtDb)).toMatchObject({ worktreeExists: null, gone: null });
    expect(repo.dbguard(['db', 'list'], noGit).stderr).toContain('no database is shown as removable until git can list the worktrees');
  });

  it('a broken repository config: git fails, prune refuses and drops nothing', async () => {
    const { repo, worktree, wtDb } = await projectWithWorktree();
    repo.git('worktree', 'remove', '--force', worktree);
    repo.write('.git/config', '[core\nthis is not git config\n');
    const refused = repo.dbguard(['db', 'prune', '--yes']);
    expect(refused.status).toBe(4);
    expect(refused.stderr).toContain('error[WORKTREES_UNKNOWN]');
    expect(refused.stderr).toContain('bad config line');
    expect(await exists(wtDb)).toBe(true);
  });

  it('a damaged .git/worktrees entry (git no longer lists a worktree whose folder is there): kept, and said so', async () => {
    const { repo, worktree, wtDb } = await projectWithWorktree();
    const entry = join(repo.root, '.git', 'worktrees');
    const [name] = (repo.git('worktree', 'list', '--porcelain').stdout.match(/^worktree .*$/gm) ?? []).slice(1);
    expect(name).toBe(`worktree ${realpathSync(worktree)}`);
    rmSync(join(entry, readdirSync(entry)[0] as string, 'gitdir'));
    expect(repo.git('worktree', 'list', '--porcelain').stdout).not.toContain(worktree);
    expect(listJson(repo).doc.databases.find((d) => d.name === wtDb)).toMatchObject({ worktreeExists: true, gone: null });
    expect(repo.dbguard(['db', 'list']).stdout).toContain('(not listed by git: git worktree repair)');
    expect(repo.dbguard(['db', 'prune', '--yes']).stdout).toContain('nothing to prune');
    expect(await exists(wtDb)).toBe(true);
  });
});

describe('saved branch databases, user databases, snapshots', () => {
  it('a deleted branch makes its saved database prunable; the main database, user databases, snapshots and other projects\' are untouched', async () => {
    const { repo, db } = await repoOnNewDatabase(repos, tableMigration(1, 'people'));
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('branch', 'old/feature-ü');
    repo.git('branch', 'kept-feature');
    const root = realpathSync(repo.root);
    const oldBranchDb = savedBranchDatabaseName(db, 'old/feature-ü');
    const keptBranchDb = savedBranchDatabaseName(db, 'kept-feature');
    await keptDatabase(oldBranchDb, { kind: 'branch', worktree: root, branch: 'old/feature-ü' });
    await keptDatabase(keptBranchDb, { kind: 'branch', worktree: root, branch: 'kept-feature' });
    // Another project on the same server: its worktree is not in this repository, and it is not ours to judge.
    const otherMain = await createDatabase();
    const foreign = worktreeDatabaseName(otherMain, '/nowhere/else');
    await keptDatabase(foreign, { kind: 'worktree', worktree: '/nowhere/else', branch: 'x' });
    const userDb = await createDatabase();
    await query('postgres', `COMMENT ON DATABASE ${quoteIdentifier(userDb)} IS 'my own'`);
    expect(repo.dbguard(['snapshot', 'save', 'before-prune']).status).toBe(0);

    expect(listJson(repo).doc.databases.find((d) => d.name === oldBranchDb)).toMatchObject({ kind: 'branch', branchExists: true, gone: null });
    repo.git('branch', '-D', 'old/feature-ü');
    const listed = listJson(repo).doc;
    expect(listed.databases.map((d) => d.name).sort()).toEqual([db, oldBranchDb, keptBranchDb].sort());
    expect(listed.databases.find((d) => d.name === oldBranchDb)).toMatchObject({ branch: 'old/feature-ü', branchExists: false, gone: 'branch-deleted' });
    expect(listed.databases.find((d) => d.name === keptBranchDb)).toMatchObject({ branchExists: true, gone: null });
    expect(repo.dbguard(['db', 'list']).stdout).toContain('branch old/feature-ü (deleted), saved in');

    const pruned = JSON.parse(repo.dbguard(['db', 'prune', '--yes', '--json']).stdout);
    expect(pruned.dropped.map((d: Listed) => d.name)).toEqual([oldBranchDb]);
    for (const name of [db, keptBranchDb, foreign, userDb]) expect(await exists(name), name).toBe(true);
    expect(await exists(oldBranchDb)).toBe(false);
    expect(JSON.parse(repo.dbguard(['snapshot', 'list', '--json']).stdout).snapshots.map((s: { name: string }) => s.name)).toEqual(['before-prune']);
  });
});
