import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HOOK_NAMES, standaloneHook } from '../../src/git/hook-scripts.js';
import { tableMigration } from '../helpers/db.js';
import { GitRepo, PACKAGE_ROOT, repoOnNewDatabase, run } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

const base = tableMigration(445, 'chat');
const branchA = { ...base, ...tableMigration(446, 'a_one') };

/** A repo on branch a with 446 applied, main lacking it; hooks not installed yet. */
async function repoWithConflictAhead(): Promise<GitRepo> {
  const { repo } = await repoOnNewDatabase(repos, base, 'base');
  repo.git('checkout', '-q', '-b', 'a');
  repo.commitMigrations(branchA, 'a');
  expect(repo.dbguard(['migrate']).status).toBe(0);
  return repo;
}

const WARNING = 'lacks 1 migration the database has applied: 446';

describe('dbguard hooks install / uninstall', () => {
  it('installs executable shims in .git/hooks, idempotently, and uninstall removes them', async () => {
    const repo = await repoWithConflictAhead();
    const first = JSON.parse(repo.dbguard(['hooks', 'install', '--json']).stdout);
    expect(first.layout.kind).toBe('git');
    expect(first.changed).toEqual([...HOOK_NAMES]);
    const hookPath = join(repo.root, '.git', 'hooks', 'post-checkout');
    const content = readFileSync(hookPath, 'utf8');
    expect(content).toBe(standaloneHook('post-checkout'));
    expect(statSync(hookPath).mode & 0o111).toBe(0o111);

    const second = JSON.parse(repo.dbguard(['hooks', 'install', '--json']).stdout);
    expect(second.changed).toEqual([]);
    expect(readFileSync(hookPath, 'utf8')).toBe(content);

    expect(repo.git('checkout', 'main').stderr).toContain(WARNING);
    expect(JSON.parse(repo.dbguard(['hooks', 'status', '--json']).stdout).hooks.every((h: { installed: boolean }) => h.installed)).toBe(true);

    repo.dbguard(['hooks', 'uninstall']);
    expect(HOOK_NAMES.some((name) => existsSync(join(repo.root, '.git', 'hooks', name)))).toBe(false);
    expect(repo.dbguard(['hooks', 'status']).status).toBe(1);
    expect(repo.git('checkout', 'a').stderr).not.toContain('dbguard');
  });

  it('keeps and chains an existing hook (both run, its exit status is kept); uninstall restores it byte for byte', async () => {
    const repo = await repoWithConflictAhead();
    const hookPath = join(repo.root, '.git', 'hooks', 'post-checkout');
    const original = '#!/bin/sh\necho "original hook ran with $3" > "$(git rev-parse --show-toplevel)/original-ran"\nexit 3\n';
    writeFileSync(hookPath, original, { mode: 0o755 });
    // What git itself reports for this hook alone is the status the chain must keep.
    const baseline = repo.git('checkout', 'main').status;
    expect(baseline).not.toBe(0);
    repo.git('checkout', '-q', 'a');
    repo.dbguard(['hooks', 'install']);
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain(WARNING);
    expect(readFileSync(join(repo.root, 'original-ran'), 'utf8')).toBe('original hook ran with 1\n');
    expect(checkout.status).toBe(baseline);

    repo.dbguard(['hooks', 'uninstall']);
    expect(readFileSync(hookPath, 'utf8')).toBe(original);
    expect(existsSync(`${hookPath}.pre-dbguard`)).toBe(false);
  });

  it('works with husky v9: adds a block to .husky/<hook>, keeps the project\'s lines, removes only its block', async () => {
    const repo = await repoWithConflictAhead();
    mkdirSync(join(repo.root, 'node_modules'), { recursive: true });
    symlinkSync(join(PACKAGE_ROOT, 'node_modules', 'husky'), join(repo.root, 'node_modules', 'husky'));
    expect(run(process.execPath, [join(repo.root, 'node_modules', 'husky', 'bin.js')], repo.root).status).toBe(0);
    expect(repo.git('config', 'core.hooksPath').stdout.trim()).toBe('.husky/_');
    mkdirSync(join(repo.root, '.husky'), { recursive: true });
    writeFileSync(join(repo.root, '.husky', 'post-checkout'), 'echo "project line" > husky-ran\n');

    const installed = JSON.parse(repo.dbguard(['hooks', 'install', '--json']).stdout);
    expect(installed.layout.kind).toBe('husky');
    const checkout = repo.git('checkout', 'main');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr).toContain(WARNING);
    expect(readFileSync(join(repo.root, 'husky-ran'), 'utf8')).toBe('project line\n');

    repo.dbguard(['hooks', 'uninstall']);
    expect(readFileSync(join(repo.root, '.husky', 'post-checkout'), 'utf8')).toBe('echo "project line" > husky-ran\n');
    expect(existsSync(join(repo.root, '.husky', 'post-merge'))).toBe(false);
  });

  it('works with a custom core.hooksPath', async () => {
    const repo = await repoWithConflictAhead();
    repo.git('config', 'core.hooksPath', '.githooks');
    const installed = JSON.parse(repo.dbguard(['hooks', 'install', '--json']).stdout);
    expect(installed.layout).toEqual({ kind: 'hooksPath', dir: join(repo.root, '.githooks') });
    expect(existsSync(join(repo.root, '.git', 'hooks', 'post-checkout'))).toBe(false);
    expect(repo.git('checkout', 'main').stderr).toContain(WARNING);
  });

  it('shares hooks with linked worktrees; each worktree checks its own files', async () => {
    const repo = await repoWithConflictAhead();
    repo.dbguard(['hooks', 'install']);
    // One database and one state dir for both worktrees, so the linked one sees what main's applied.
    const stateDir = join(repo.root, '.dbguard');
    repo.git('worktree', 'add', '-q', `${repo.root}-wt`, '-b', 'wt', 'a');
    const worktree = new GitRepo(`${repo.root}-wt`);
    repos.push(worktree);
    writeFileSync(join(worktree.root, 'dbguard.config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(repo.root, 'dbguard.config.json'), 'utf8')), stateDir }));
    mkdirSync(join(worktree.root, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(join(repo.root, 'node_modules', '.bin', 'dbguard'), join(worktree.root, 'node_modules', '.bin', 'dbguard'));

    const switched = worktree.git('checkout', 'main');
    expect(switched.stderr).toContain(WARNING);
    // The main worktree still has branch a's files: its own check is clean.
    expect(repo.dbguard(['check']).status).toBe(0);
    expect(worktree.dbguard(['check']).status).toBe(1);
  });

  it('never fails git, even with a broken configuration', async () => {
    const repo = await repoWithConflictAhead();
    repo.dbguard(['hooks', 'install']);
    repo.write('dbguard.config.json', '{ "onConflict": "explode" }');
    const checkout = repo.git('checkout', 'main');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr).toContain('CONFIG_INVALID');
  });

  it('ships hooks/<name> files equal to what the installer writes', () => {
    for (const name of HOOK_NAMES) expect(readFileSync(join(PACKAGE_ROOT, 'hooks', name), 'utf8')).toBe(standaloneHook(name));
  });
});
