/**
 * dbguard's own git config keys (dbguard.project, dbguard.bin, dbguard.node) are read and written with
 * plain git (issue 26.5b): simple-git 4.1.0 printed a SIMPLE_GIT_UNLISTED_CONFIG warning for every key
 * not on its allow-list. dbguard no longer depends on simple-git at all; this holds the keys' round trip.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, GitRepo, run } from '../helpers/git.js';

const { hooksStatus, installHooks, recordedProjects, uninstallHooks } = await import('../../src/git/hooks-install.js');

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

describe('dbguard.* git config through plain git (issue 26.5b)', () => {
  it('install records the project and the binary, status reads them, uninstall removes them; no warning', async () => {
    const repo = GitRepo.create({ nodeModules: false });
    repos.push(repo);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      await installHooks(repo.root, { bin: BIN, node: process.execPath });
      expect(repo.git('config', '--get-all', 'dbguard.project').stdout.trim()).toBe('.');
      expect(repo.git('config', '--get', 'dbguard.bin').stdout.trim()).toBe(BIN);
      expect(repo.git('config', '--get', 'dbguard.node').stdout.trim()).toBe(process.execPath);
      await installHooks(repo.root, { bin: BIN, node: process.execPath }); // idempotent
      expect(await recordedProjects(repo.root)).toEqual(['.']);
      expect((await hooksStatus(repo.root, { PATH: '' })).runner).toEqual({ kind: 'recorded', path: BIN });
      await uninstallHooks(repo.root);
      expect(run('git', ['config', '--get-regexp', '^dbguard\\.'], repo.root)).toMatchObject({ status: 1, stdout: '' });
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.includes('SIMPLE_GIT') || w.includes('simple-git'))).toEqual([]);
  });
});
