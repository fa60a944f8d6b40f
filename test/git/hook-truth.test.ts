/**
 * The hook's answer must be true (issue 16, items 7–9): an autostash that holds an applied migration,
 * a fast path that may only skip what it can prove unchanged, and monorepo projects resolved from
 * their own folder. Real repositories, real git commands, the built CLI.
 */
import { mkdirSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { BIN, GitRepo, run } from '../helpers/git.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function tracked(repo: GitRepo): GitRepo {
  cleanups.push(() => repo.cleanup());
  return repo;
}

const tableExists = async (db: string, table: string) => (await query<{ t: string | null }>(db, `SELECT to_regclass('public.${table}')::text AS t`))[0]?.t === table;

/** A repository whose main is pushed to a bare "origin", and a second clone that moves origin's main on. */
async function withOrigin(onConflict: 'warn' | 'rollback') {
  const db = await createDatabase();
  const repo = tracked(GitRepo.create());
  repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, onConflict }));
  repo.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two') }, 'base');
  expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
  const origin = tracked(new GitRepo());
  run('git', ['clone', '-q', '--bare', repo.root, origin.root], repo.root);
  repo.git('remote', 'add', 'origin', origin.root);
  repo.git('fetch', '-q', 'origin');
  repo.git('branch', '-q', '-u', 'origin/main');
  const other = tracked(new GitRepo());
  run('git', ['clone', '-q', origin.root, other.root], repo.root);
  other.configureUser();
  expect(repo.dbguard(['migrate']).status).toBe(0);
  return { db, repo, other };
}

describe('item 7: git pull --autostash', () => {
  for (const mode of ['--rebase', '--no-rebase'] as const) {
    it(`pull ${mode} --autostash keeps an applied, staged migration that the stash holds for a moment`, async () => {
      const { db, repo, other } = await withOrigin('rollback');
      other.write('README.md', 'moved on\n');
      other.git('add', '-A');
      other.git('commit', '-q', '-m', 'upstream');
      other.git('push', '-q', 'origin', 'main');
      // A commit of our own, so the pull really rebases (its post-rewrite runs while the stash is held).
      repo.commitFile('NOTES.md', 'ours\n', 'ours');
      repo.write('migrations/3_wip.up.sql', 'CREATE TABLE wip (id int);');
      repo.write('migrations/3_wip.down.sql', 'DROP TABLE wip;');
      repo.git('add', 'migrations');
      expect(repo.dbguard(['migrate']).status).toBe(0);
      const pulled = repo.git('pull', mode, '--autostash');
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(pulled.stderr).not.toContain('rolled back');
      expect(pulled.stderr).not.toContain('lacks');
      expect(await tableExists(db, 'wip')).toBe(true);
      expect(await schemaVersion(db)).toEqual({ version: '3', dirty: false });
      expect(repo.dbguard(['check']).status).toBe(0);
    });
  }

  it('the check waits for the autostash to be applied back, then acts on what really changed', async () => {
    const { db, repo, other } = await withOrigin('warn');
    // Upstream drops migration 2 (reverted there); locally a staged edit is autostashed over the pull.
    other.git('rm', '-q', 'migrations/2_create_two.up.sql', 'migrations/2_create_two.down.sql');
    other.git('commit', '-q', '-m', 'revert two');
    other.git('push', '-q', 'origin', 'main');
    repo.write('README.md', 'local edit\n');
    repo.git('add', 'README.md');
    const pulled = repo.git('pull', '--no-rebase', '--autostash');
    expect(pulled.status, pulled.stderr).toBe(0);
    expect(pulled.stderr).toContain('lacks 1 migration the database has applied: 2');
    expect(await tableExists(db, 'two')).toBe(true);
  });
});

describe('item 8: the node-less fast path skips only what it can prove unchanged', () => {
  it('a migrations folder that is a symbolic link: a checkout that removes an applied file warns', async () => {
    const db = await createDatabase();
    const repo = tracked(GitRepo.create());
    rmSync(join(repo.root, 'migrations'), { recursive: true });
    mkdirSync(join(repo.root, 'db', 'migrations'), { recursive: true });
    symlinkSync(join('db', 'migrations'), join(repo.root, 'migrations'));
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    const commit = (files: Record<string, string>, message: string) => {
      for (const name of readdirSync(join(repo.root, 'db', 'migrations'))) unlinkSync(join(repo.root, 'db', 'migrations', name));
      for (const [name, sql] of Object.entries(files)) writeFileSync(join(repo.root, 'db', 'migrations', name), sql);
      repo.git('add', '-A');
      repo.git('commit', '-q', '-m', message);
    };
    commit(tableMigration(1, 'one'), 'one');
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'feature');
    commit({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two') }, 'two');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    // A clean check on a branch with the same migrations records what the fast path trusts.
    repo.git('checkout', '-q', '-b', 'side');
    repo.write('README.md', 'side\n');
    repo.git('add', '-A');
    repo.git('commit', '-q', '-m', 'side');
    repo.git('checkout', '-q', 'feature');
    expect(repo.git('checkout', '-q', 'side').stderr).toBe('');
    const toMain = repo.git('checkout', 'main');
    expect(toMain.stderr).toContain('lacks 1 migration the database has applied: 2');
  });

  it('an applied, uncommitted migration taken away by git stash -u: the next checkout warns', async () => {
    const db = await createDatabase();
    const repo = tracked(GitRepo.create());
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    repo.commitMigrations(tableMigration(1, 'one'), 'one');
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'side');
    repo.commitFile('README.md', 'side\n', 'side');
    repo.write('migrations/2_wip.up.sql', 'CREATE TABLE wip (id int);');
    repo.write('migrations/2_wip.down.sql', 'DROP TABLE wip;');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', 'main');
    expect(repo.git('checkout', '-q', 'side').stderr).toBe(''); // clean: the fast path is armed
    repo.git('stash', '-q', '-u');
    const toMain = repo.git('checkout', 'main');
    expect(toMain.stderr).toContain('lacks 1 migration the database has applied: 2');
    expect(repo.dbguard(['check']).status).toBe(1);
  });
});

describe('item 9: a project in a monorepo folder', () => {
  function monorepo() {
    const repo = tracked(GitRepo.create({ nodeModules: false }));
    const project = async (folder: string) => {
      const db = await createDatabase();
      const dir = join(repo.root, folder);
      mkdirSync(join(dir, 'migrations'), { recursive: true });
      mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
      symlinkSync(BIN, join(dir, 'node_modules', '.bin', 'dbguard'));
      writeFileSync(join(dir, 'dbguard.config.json'), JSON.stringify({ database: { url: urlFor(db) } }));
      const set = (files: Record<string, string>) => {
        for (const name of readdirSync(join(dir, 'migrations'))) unlinkSync(join(dir, 'migrations', name));
        for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, 'migrations', name), sql);
      };
      return { db, dir, set, dbguard: (args: string[]) => repo.dbguard(args, {}, undefined, dir) };
    };
    const commit = (message: string) => {
      repo.git('add', '-A');
      repo.git('commit', '-q', '-m', message);
    };
    return { repo, project, commit };
  }

  it('lint --base names the edit and the delete made in the project\'s own folder', async () => {
    const { repo, project, commit } = monorepo();
    const api = await project('services/api');
    api.set({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two') });
    commit('base');
    repo.git('checkout', '-q', '-b', 'feature');
    api.set({ ...tableMigration(1, 'one', ' -- edited') });
    commit('edit one, delete two');
    const lint = api.dbguard(['lint', '--base', 'main']);
    expect(lint.status).toBe(1);
    expect(lint.stdout).toContain('edited  migrations/1_create_one.up.sql');
    expect(lint.stdout).toContain('deleted  migrations/2_create_two.up.sql');
  });

  it('a down file committed after its migration was applied is found in git for the rollback', async () => {
    const { repo, project, commit } = monorepo();
    const api = await project('services/api');
    api.set(tableMigration(1, 'one'));
    commit('base');
    repo.git('checkout', '-q', '-b', 'feature');
    api.set({ ...tableMigration(1, 'one'), '2_two.up.sql': 'CREATE TABLE two (id int);' });
    commit('two without its down');
    expect(api.dbguard(['migrate']).status).toBe(0);
    writeFileSync(join(api.dir, 'migrations', '2_two.down.sql'), 'DROP TABLE two;');
    commit('the down of two');
    repo.git('checkout', '-q', 'main');
    const rolled = api.dbguard(['rollback', '--yes']);
    expect(rolled.stderr).toBe('');
    expect(rolled.status).toBe(0);
    expect(await tableExists(api.db, 'two')).toBe(false);
  });

  it('two dbguard projects in one repository: hooks install in each guards both', async () => {
    const { repo, project, commit } = monorepo();
    const api = await project('services/api');
    const web = await project('services/web');
    api.set(tableMigration(1, 'one'));
    web.set(tableMigration(1, 'uno'));
    commit('base');
    expect(api.dbguard(['hooks', 'install']).status).toBe(0);
    expect(web.dbguard(['hooks', 'install']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'feature');
    api.set({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two') });
    web.set({ ...tableMigration(1, 'uno'), ...tableMigration(7, 'siete') });
    commit('both move');
    expect(api.dbguard(['migrate']).status).toBe(0);
    expect(web.dbguard(['migrate']).status).toBe(0);
    const toMain = repo.git('checkout', 'main');
    expect(toMain.stderr).toContain('lacks 1 migration the database has applied: 2');
    expect(toMain.stderr).toContain('lacks 1 migration the database has applied: 7');
    // Uninstalling one project keeps the hooks for the other.
    expect(api.dbguard(['hooks', 'uninstall']).stdout).toContain('they stay for services/web');
    repo.git('checkout', '-q', 'feature');
    const again = repo.git('checkout', 'main');
    expect(again.stderr).toContain('applied: 7');
    expect(again.stderr).not.toContain('applied: 2');
  });
});

describe('issue 26.7c: a fast-forward git rebase is checked once', () => {
  it('git rebase origin/main that fast-forwards over a reverted, applied migration warns (no post-rewrite follows)', async () => {
    const { db, repo, other } = await withOrigin('warn');
    other.git('rm', '-q', 'migrations/2_create_two.up.sql', 'migrations/2_create_two.down.sql');
    other.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(3, 'three') }, 'revert two, add three');
    other.git('push', '-q', 'origin', 'main');
    repo.git('fetch', '-q', 'origin');
    const rebased = repo.git('rebase', 'origin/main');
    expect(rebased.status, rebased.stderr).toBe(0);
    expect(repo.git('rev-parse', 'HEAD').stdout).toBe(repo.git('rev-parse', 'origin/main').stdout);
    expect(rebased.stderr).toContain('dbguard: this branch lacks 1 migration the database has applied: 2');
    expect(rebased.stderr).toContain('dbguard: 1 new migration here (3)');
    expect(rebased.stderr.match(/lacks 1 migration/g)).toHaveLength(1);
    expect(await tableExists(db, 'two')).toBe(true);
  });

  it('a rebase that replays commits still acts only once, at its end', async () => {
    const { repo, other } = await withOrigin('warn');
    other.commitFile('README.md', 'upstream\n', 'upstream');
    other.git('push', '-q', 'origin', 'main');
    repo.commitFile('NOTES.md', 'ours\n', 'ours');
    repo.git('fetch', '-q', 'origin');
    const rebased = repo.gitWith({ DEBUG: 'dbguard' }, 'rebase', 'origin/main');
    expect(rebased.status, rebased.stderr).toBe(0);
    expect(rebased.stderr).toContain('dbguard: post-rewrite');
    expect(rebased.stderr).not.toContain('dbguard: post-checkout');
  });
});
