/**
 * Issue 28 (DESIGN §17): every worktree of a repository finds the same server — the main worktree's
 * state dir, or a folder in a bare repository's git dir — from git's own files, and a linked worktree's
 * settings name its own database on it.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { worktreeDatabaseName } from '../../src/core/kept-database.js';
import { loadSettings } from '../../src/fs/config.js';
import { readCheckoutPlace } from '../../src/fs/server-location.js';
import { GitRepo, run } from '../helpers/git.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).reverse().forEach((c) => c()));

function repoWithWorktree(config: Record<string, unknown> = {}): { repo: GitRepo; worktree: string } {
  const repo = GitRepo.create();
  const outside = realpathSync(mkdtempSync(join(tmpdir(), 'dbguard-wt-')));
  cleanups.push(() => {
    repo.cleanup();
    rmSync(outside, { recursive: true, force: true });
  });
  repo.write('dbguard.config.json', JSON.stringify(config));
  repo.commitMigrations({ '1_a.up.sql': 'CREATE TABLE a (id int);', '1_a.down.sql': 'DROP TABLE a;' }, 'base');
  const worktree = join(outside, 'agent one');
  repo.git('worktree', 'add', '-q', worktree, '-b', 'agent1');
  return { repo, worktree };
}

describe('one server per repository', () => {
  it('a linked worktree finds the main worktree\'s state dir for the server and works on a database of its own there', () => {
    const { repo, worktree } = repoWithWorktree();
    const main = realpathSync(repo.root);
    expect(readCheckoutPlace(worktree)).toMatchObject({ linked: true, mainWorktree: main, worktreeRealPath: worktree });
    const settings = loadSettings(worktree, {});
    expect(settings.serverStateDir).toBe(join(main, '.dbguard'));
    expect(settings.stateDir).toBe('.dbguard');
    expect(settings.root).toBe(worktree);
    expect(settings.worktree).toEqual({ path: worktree, database: worktreeDatabaseName('postgres', worktree), source: 'postgres' });
    expect(settings.database).toMatchObject({ kind: 'embedded', database: worktreeDatabaseName('postgres', worktree) });
    // The main worktree: today's database and state dir.
    const mainSettings = loadSettings(repo.root, {});
    expect(mainSettings.worktree).toBeNull();
    expect(mainSettings.serverStateDir).toBeNull();
    expect(mainSettings.database).toMatchObject({ kind: 'embedded', database: 'postgres' });
  });

  it('"worktreeDatabases": false shares the main worktree\'s database (and server)', () => {
    const { repo, worktree } = repoWithWorktree({ worktreeDatabases: false });
    const settings = loadSettings(worktree, {});
    expect(settings.worktree).toBeNull();
    expect(settings.serverStateDir).toBe(join(realpathSync(repo.root), '.dbguard'));
    expect(settings.database).toMatchObject({ kind: 'embedded', database: 'postgres' });
  });

  it('with an external server it is opt-in, on the same server under the worktree\'s name', () => {
    const url = 'postgres://me:secret@127.0.0.1:5432/app';
    const { worktree } = repoWithWorktree({ database: { url } });
    expect(loadSettings(worktree, {}).worktree).toBeNull();
    writeFileSync(join(worktree, 'dbguard.config.json'), JSON.stringify({ database: { url }, worktreeDatabases: true }));
    const settings = loadSettings(worktree, {});
    expect(settings.database).toEqual({ kind: 'external', url: `postgres://me:secret@127.0.0.1:5432/${worktreeDatabaseName('app', worktree)}` });
    expect(settings.worktree?.source).toBe('app');
  });

  it('a monorepo project inside a worktree uses the same project folder of the main worktree', () => {
    const { repo, worktree } = repoWithWorktree();
    mkdirSync(join(worktree, 'services', 'api'), { recursive: true });
    writeFileSync(join(worktree, 'services', 'api', 'dbguard.config.json'), '{}');
    expect(loadSettings(join(worktree, 'services', 'api'), {}).serverStateDir).toBe(join(realpathSync(repo.root), 'services', 'api', '.dbguard'));
  });

  it('a bare repository\'s worktrees share a folder of its git dir; an absolute state dir keeps each worktree\'s state apart', () => {
    const { repo } = repoWithWorktree();
    const bare = `${repo.root}-bare.git`;
    cleanups.push(() => rmSync(bare, { recursive: true, force: true }));
    expect(run('git', ['clone', '-q', '--bare', repo.root, bare], tmpdir()).status).toBe(0);
    const one = `${bare}-one`;
    const two = `${bare}-two`;
    cleanups.push(() => [one, two].forEach((dir) => rmSync(dir, { recursive: true, force: true })));
    expect(run('git', ['worktree', 'add', '-q', one, 'main'], bare).status).toBe(0);
    expect(run('git', ['worktree', 'add', '-q', '-b', 'two', two, 'main'], bare).status).toBe(0);
    const first = loadSettings(one, {});
    const second = loadSettings(two, {});
    expect(first.serverStateDir).toBe(join(realpathSync(bare), 'dbguard'));
    expect(second.serverStateDir).toBe(first.serverStateDir);
    expect(first.worktree?.database).not.toBe(second.worktree?.database);
    const shared = join(tmpdir(), 'dbguard-abs-state');
    const absolute = loadSettings(one, { DBGUARD_STATE_DIR: shared });
    expect(absolute.serverStateDir).toBe(shared);
    expect(absolute.stateDir).toBe(join(shared, 'worktrees', first.worktree?.database ?? ''));
  });
});
