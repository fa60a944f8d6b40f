/**
 * What an adversarial pass found in a week of worktrees and branches (DESIGN §17): a worktree added again
 * at a removed one's path, a branch renamed with `git branch -m` (no hook fires for either), `db list` run
 * in a linked worktree, and `db stop` there while the main worktree's app is connected. Nothing is lost,
 * nothing leaks, nothing is called what it is not.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { savedBranchDatabaseName, worktreeDatabaseName } from '../../src/core/kept-database.js';
import { sqlAt as sql } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';
import { addWorktree, developerRepo, inWorktree, urlIn } from '../helpers/worktrees.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).reverse().forEach((c) => c()));

const notes = async (url: string) => (await sql<{ note: string }>(url, 'SELECT note FROM one ORDER BY id')).map((r) => r.note);

describe('a worktree added again at a removed one\'s path', () => {
  it('gets a fresh copy of the developer\'s database; the one the removed worktree left is kept, listed, never reused', async () => {
    const setup = await developerRepo(cleanups);
    const { path } = addWorktree(setup, 'wt', 'first');
    await sql(urlIn(setup, path), "INSERT INTO one (note) VALUES ('the first worktree''s row')");
    setup.repo.git('worktree', 'remove', '--force', path);
    const again = setup.repo.git('worktree', 'add', '-q', '-b', 'second', path);
    const name = worktreeDatabaseName('postgres', path);
    const aside = savedBranchDatabaseName(name, 'first');
    expect(again.stderr).toContain(`dbguard: this worktree's database: ${name} (copy of postgres`);
    expect(again.stderr).toContain(`the database a worktree removed from this path left (first) is kept as ${aside}`);
    expect(await notes(urlIn(setup, path))).toEqual(["the developer's row"]);
    const kept = new URL(setup.mainUrl);
    kept.pathname = `/${aside}`;
    expect(await notes(kept.toString())).toEqual(["the developer's row", "the first worktree's row"]);
    const list = JSON.parse(setup.repo.dbguard(['db', 'list', '--json']).stdout) as { databases: Array<{ name: string; kind: string }> };
    expect(list.databases.map((d) => [d.name, d.kind])).toContainEqual([aside, 'branch']);
  });

  it('with branch databases, the checked-out branch\'s database the removed worktree saved is brought back, as it left it', async () => {
    const setup = await developerRepo(cleanups, { branchDatabases: true });
    const { path } = addWorktree(setup, 'wt', 'a1');
    const wt = new GitRepo(path);
    wt.git('checkout', '-q', '-b', 'a2');
    await sql(urlIn(setup, path), "INSERT INTO one (note) VALUES ('a2''s row')");
    const back = wt.git('checkout', 'a1');
    expect(back.stderr).toContain("is now a1's database");
    setup.repo.git('worktree', 'remove', '--force', path);
    const again = setup.repo.git('worktree', 'add', '-q', path, 'a2');
    expect(again.stderr).toContain("this branch's database, saved as");
    expect(await notes(urlIn(setup, path))).toEqual(["the developer's row", "a2's row"]);
    // And switching on from there works: a1's database (the one the removed worktree held) comes back.
    const toA1 = new GitRepo(path).git('checkout', 'a1');
    expect(toA1.stderr).not.toContain('BRANCH_DATABASE_BUSY');
    expect(await notes(urlIn(setup, path))).toEqual(["the developer's row"]);
  });
});

describe('git branch -m (no hook fires)', () => {
  it('the saved database of the old name is the renamed branch\'s: switched in, and never removable', async () => {
    const setup = await developerRepo(cleanups, { branchDatabases: true });
    const { repo } = setup;
    repo.git('checkout', '-q', '-b', 'feat');
    await sql(setup.mainUrl, "INSERT INTO one (note) VALUES ('feat''s row')");
    repo.git('checkout', '-q', 'main');
    repo.git('branch', '-m', 'feat', 'feat2');
    const list = JSON.parse(repo.dbguard(['db', 'list', '--json']).stdout) as { databases: Array<{ name: string; gone: string | null }> };
    expect(list.databases.find((d) => d.name === savedBranchDatabaseName('postgres', 'feat'))?.gone).toBeNull();
    expect(repo.dbguard(['db', 'prune', '--dry-run']).stdout).not.toContain(savedBranchDatabaseName('postgres', 'feat'));
    const toFeat2 = repo.git('checkout', 'feat2');
    expect(toFeat2.stderr).toContain("is now feat2's database, as feat2 (saved as feat, its name before git branch -m) left it");
    expect(await notes(setup.mainUrl)).toEqual(["the developer's row", "feat's row"]);
  });
});

describe('in a linked worktree', () => {
  it('db list sees every database of the repository, main\'s included, as the main worktree does', async () => {
    const setup = await developerRepo(cleanups);
    const one = addWorktree(setup, 'wt1', 'wt1').path;
    const two = addWorktree(setup, 'wt2', 'wt2').path;
    setup.repo.git('worktree', 'remove', '--force', two);
    const fromMain = JSON.parse(setup.repo.dbguard(['db', 'list', '--json']).stdout) as { databases: Array<{ name: string; kind: string; gone: string | null }> };
    const fromWorktree = JSON.parse(inWorktree(setup, one, ['db', 'list', '--json']).stdout) as typeof fromMain;
    const shape = (l: typeof fromMain) => l.databases.map((d) => [d.name, d.kind, d.gone]).sort();
    expect(shape(fromWorktree)).toEqual(shape(fromMain));
    expect(shape(fromWorktree)).toContainEqual(['postgres', 'main', null]);
    expect(shape(fromWorktree)).toContainEqual([worktreeDatabaseName('postgres', two), 'worktree', 'worktree-removed']);
  });

  it('db stop refuses while an app is connected to another worktree\'s database, naming it; --force stops it', async () => {
    const setup = await developerRepo(cleanups);
    const { path } = addWorktree(setup, 'wt', 'agent');
    const app = new pg.Client({ connectionString: setup.mainUrl, application_name: 'main-app' });
    await app.connect();
    try {
      const stop = inWorktree(setup, path, ['db', 'stop']);
      expect(stop.status).toBe(3);
      expect(stop.stderr).toContain('error[SERVER_IN_USE]');
      expect(stop.stderr).toMatch(/main-app \(pid [0-9]+\) on postgres/);
      expect((await app.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await app.end().catch(() => undefined);
    }
    expect(inWorktree(setup, path, ['db', 'stop', '--force']).status).toBe(0);
    expect(setup.repo.dbguard(['db', 'status']).stdout).toContain('embedded database stopped');
  });

  it('its .dbguard/ (the env file holds the password) is never offered to git add, even on a commit whose .gitignore lacks it', async () => {
    const setup = await developerRepo(cleanups);
    setup.repo.git('checkout', '-q', '-b', 'no-ignore');
    setup.repo.write('.gitignore', 'node_modules/\n');
    setup.repo.git('commit', '-q', '-am', 'a .gitignore without .dbguard');
    setup.repo.git('checkout', '-q', 'main');
    const { path } = addWorktree(setup, 'old', 'old-work');
    const wt = new GitRepo(path);
    wt.git('checkout', '-q', 'no-ignore');
    inWorktree(setup, path, ['db', 'url']);
    expect(wt.git('status', '--porcelain', '--untracked-files=all').stdout).not.toContain('.dbguard');
  });

  it('db prune drops a removed worktree\'s database with its snapshots, which nothing could list or restore after', async () => {
    const setup = await developerRepo(cleanups);
    const { path } = addWorktree(setup, 'wt', 'snap');
    expect(inWorktree(setup, path, ['snapshot', 'save']).status).toBe(0);
    const name = worktreeDatabaseName('postgres', path);
    const snapshotsOfIt = async () => (await sql<{ n: number }>(setup.mainUrl, `SELECT count(*)::int AS n FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE 'dbguard snapshot %' AND shobj_description(oid, 'pg_database') LIKE '%"of":"${name}"%'`))[0]?.n;
    expect(await snapshotsOfIt()).toBe(1);
    setup.repo.git('worktree', 'remove', '--force', path);
    const dry = setup.repo.dbguard(['db', 'prune', '--dry-run']);
    expect(dry.stdout).toContain(`${name} `);
    expect(dry.stdout).toContain('and its 1 snapshot');
    expect(await snapshotsOfIt()).toBe(1);
    const pruned = setup.repo.dbguard(['db', 'prune', '--yes']);
    expect(pruned.status, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain('and their 1 snapshot');
    expect(await snapshotsOfIt()).toBe(0);
  });
});
