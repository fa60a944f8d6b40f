/**
 * Installing and removing hooks where users' setups differ (issue 16, items 10 and 11): a hooksPath with
 * "~", hooks turned off with /dev/null, another tool rewriting our hook, hand edits, a damaged block,
 * a missing node, and folders the user may not write.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, tableMigration, urlFor } from '../helpers/db.js';
import { BIN, GitRepo } from '../helpers/git.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function repoWith(options: { nodeModules?: boolean } = {}): GitRepo {
  const repo = GitRepo.create(options);
  cleanups.push(() => repo.cleanup());
  return repo;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dbguard-home-'));
  chmodSync(dir, 0o755);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const hook = (repo: GitRepo, name = 'post-checkout') => join(repo.root, '.git', 'hooks', name);

describe('item 10: hook installation', () => {
  it('core.hooksPath=~/.githooks installs into the home folder, as git reads it, not a "~" folder', () => {
    const home = tempDir();
    const repo = repoWith();
    repo.git('config', 'core.hooksPath', '~/.githooks');
    const installed = repo.dbguard(['hooks', 'install'], { HOME: home });
    expect(installed.status, installed.stderr).toBe(0);
    expect(existsSync(join(home, '.githooks', 'post-checkout'))).toBe(true);
    expect(existsSync(join(repo.root, '~'))).toBe(false);
  });

  it('core.hooksPath=/dev/null (hooks turned off): init and hooks install say so with a code, never INTERNAL', () => {
    const repo = repoWith();
    repo.git('config', 'core.hooksPath', '/dev/null');
    const init = repo.dbguard(['init']);
    expect(init.status).toBe(1);
    expect(init.stdout).toContain('hooks not installed: core.hooksPath is /dev/null');
    expect(init.stderr).not.toContain('INTERNAL');
    const installed = repo.dbguard(['hooks', 'install']);
    expect(installed.status).toBe(2);
    expect(installed.stderr).toContain('error[HOOKS_DISABLED]');
  });

  it('a re-install after another tool rewrote the hook keeps both the earlier saved hook and the new one', () => {
    const repo = repoWith();
    writeFileSync(hook(repo), '#!/bin/sh\necho USER-HOOK-A >&2\n', { mode: 0o755 });
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    writeFileSync(hook(repo), '#!/bin/sh\necho OTHER-TOOL-B >&2\n', { mode: 0o755 });
    const again = repo.dbguard(['hooks', 'install']);
    expect(again.stdout).toContain('an older saved hook is kept as');
    const saved = readdirSync(join(repo.root, '.git', 'hooks')).filter((name) => name.startsWith('post-checkout.pre-dbguard'));
    const texts = saved.map((name) => readFileSync(join(repo.root, '.git', 'hooks', name), 'utf8'));
    expect(texts.some((t) => t.includes('USER-HOOK-A'))).toBe(true);
    expect(texts.some((t) => t.includes('OTHER-TOOL-B'))).toBe(true);
    repo.commitMigrations(tableMigration(1, 'one'), 'one');
    repo.git('checkout', '-q', '-b', 'other');
    repo.write('README.md', 'x');
    repo.git('add', '-A');
    repo.git('commit', '-q', '-m', 'x');
    expect(repo.git('checkout', 'main').stderr).toContain('OTHER-TOOL-B');
  });

  it('uninstall keeps lines added to the managed hook, removes the fast-path memo, and refuses a damaged block', () => {
    const repo = repoWith();
    writeFileSync(hook(repo), '#!/bin/sh\necho USER-HOOK-A >&2\n', { mode: 0o755 });
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    writeFileSync(hook(repo), `${readFileSync(hook(repo), 'utf8')}echo ADDED-BY-HAND >&2\n`);
    writeFileSync(join(repo.root, '.git', 'dbguard-fast-path'), 'stale\n');
    const removed = repo.dbguard(['hooks', 'uninstall']);
    expect(removed.status).toBe(0);
    expect(removed.stdout).toContain('the lines you added stay');
    expect(readFileSync(hook(repo), 'utf8')).toContain('ADDED-BY-HAND');
    expect(readFileSync(hook(repo), 'utf8')).not.toContain('>>> dbguard');
    expect(readFileSync(`${hook(repo)}.pre-dbguard`, 'utf8')).toContain('USER-HOOK-A');
    expect(existsSync(join(repo.root, '.git', 'dbguard-fast-path'))).toBe(false);

    const other = repoWith();
    expect(other.dbguard(['hooks', 'install']).status).toBe(0);
    const damaged = readFileSync(hook(other), 'utf8').replace('# <<< dbguard <<<\n', '');
    writeFileSync(hook(other), damaged);
    const refused = other.dbguard(['hooks', 'uninstall']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('error[HOOK_DAMAGED]');
    expect(readFileSync(hook(other), 'utf8')).toBe(damaged);
  });

  it('a re-install brings an older dbguard\'s block up to this version, keeping the lines around it; then it is idempotent', () => {
    const repo = repoWith();
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    const current = readFileSync(hook(repo), 'utf8');
    // An older shim: the same markers around other lines, and a line the user added below the block.
    const older = current.replace(/(# >>> dbguard >>>[^\n]*\n)[\s\S]*?(# <<< dbguard <<<)/, '$1echo OLDER-SHIM >&2\n$2') + 'echo ADDED-BY-HAND >&2\n';
    writeFileSync(hook(repo), older);
    const again = repo.dbguard(['hooks', 'install']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('installed post-checkout');
    const refreshed = readFileSync(hook(repo), 'utf8');
    expect(refreshed).not.toContain('OLDER-SHIM');
    expect(refreshed).toBe(`${current}echo ADDED-BY-HAND >&2\n`);
    expect(repo.dbguard(['hooks', 'install']).stdout).toContain('already installed');
  });

  it('the recorded node gone and none on PATH: the shim prints its one documented line', async () => {
    const db = await createDatabase();
    const repo = repoWith({ nodeModules: false });
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    repo.commitMigrations(tableMigration(1, 'one'), 'one');
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    repo.git('config', 'dbguard.node', '/nonexistent/node');
    repo.git('checkout', '-q', '-b', 'other');
    repo.commitMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two') }, 'two');
    // A PATH with git and the shell's tools, but no node and no dbguard.
    const bin = tempDir();
    for (const tool of ['git', 'sh', 'find', 'cat', 'sleep', 'dirname']) {
      const path = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      symlinkSync(path, join(bin, tool));
    }
    const checkout = repo.gitWith({ PATH: bin }, 'checkout', 'main');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr.split('\n').filter((l) => l.includes('dbguard') || l.includes('not found'))).toEqual(['dbguard: not found, hook skipped: npm i -g dbguard']);
  });
});

describe('item 11: errors a user can meet get their own code', () => {
  it('"stateDir" naming a file or /dev/null is a configuration error', () => {
    const repo = repoWith();
    repo.write('state.txt', 'not a folder');
    for (const stateDir of ['state.txt', '/dev/null']) {
      repo.write('dbguard.config.json', JSON.stringify({ stateDir }));
      for (const args of [['status'], ['migrate'], ['db', 'start']]) {
        const result = repo.dbguard(args);
        expect(result.status, `${stateDir} ${args.join(' ')}`).toBe(2);
        expect(result.stderr).toContain('error[CONFIG_INVALID]');
        expect(result.stderr).toContain('stateDir');
      }
    }
  });

  it('a hooks folder the user cannot write, and a read-only .git, are told apart from "not a git repository"', () => {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    const asUser = (repo: GitRepo, args: string[]) => {
      const result = execFileSync('sh', ['-c', 'cd "$1" && shift && "$@" 2>&1; echo "exit=$?"', 'sh', repo.root, process.execPath, BIN, ...args], {
        uid, gid, encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: repo.root, NO_COLOR: '1', GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' },
      });
      return result;
    };
    const chownTree = (dir: string) => execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
    const unwritable = repoWith();
    chownTree(unwritable.root);
    chownSync(join(unwritable.root, '.git', 'hooks'), 0, 0);
    chmodSync(join(unwritable.root, '.git', 'hooks'), 0o755);
    const denied = asUser(unwritable, ['hooks', 'install']);
    expect(denied).toContain('error[HOOKS_UNWRITABLE]');
    expect(denied).toContain('exit=4');

    const readOnly = repoWith();
    chownTree(readOnly.root);
    execFileSync('chmod', ['-R', 'a-w', join(readOnly.root, '.git')]);
    const locked = asUser(readOnly, ['hooks', 'install']);
    expect(locked).not.toContain('NOT_A_GIT_REPO');
    expect(locked).toContain('error[GIT_FAILED]');
    execFileSync('chmod', ['-R', 'u+w', join(readOnly.root, '.git')]);
  });
});
