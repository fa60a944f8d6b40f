/** A developer's repository with worktrees beside it (DESIGN §17): the set-up of the worktree tests. */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sqlAt as sql, tableMigration } from './db.js';
import { GitRepo, type RunResult } from './git.js';

export const base = { ...tableMigration(1, 'one'), ...tableMigration(2, 'two') };

export interface Setup {
  readonly repo: GitRepo;
  /** A folder beside the repository for its worktrees. */
  readonly outside: string;
  /** The main worktree's database URL (the server left running, as a developer's would be). */
  readonly mainUrl: string;
}

/** The developer's repository: migrated embedded database with rows, hooks installed, server running. */
export async function developerRepo(cleanups: Array<() => void>, config: Record<string, unknown> = {}): Promise<Setup> {
  const repo = GitRepo.create();
  const outside = realpathSync(mkdtempSync(join(tmpdir(), 'dbguard-wts-')));
  cleanups.push(() => {
    repo.dbguard(['db', 'stop', '--force']);
    repo.cleanup();
    rmSync(outside, { recursive: true, force: true });
  });
  repo.write('dbguard.config.json', JSON.stringify(config));
  repo.commitMigrations(base, 'base');
  expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
  expect(repo.dbguard(['migrate']).status).toBe(0);
  expect(repo.dbguard(['db', 'start']).status).toBe(0);
  const mainUrl = repo.dbguard(['db', 'url', '--show-password']).stdout.trim();
  await sql(mainUrl, "INSERT INTO one (note) VALUES ('the developer''s row')");
  return { repo, outside, mainUrl };
}

export function addWorktree(setup: Setup, name: string, branch: string, env: NodeJS.ProcessEnv = {}): { path: string; add: RunResult } {
  const path = join(setup.outside, name);
  const add = setup.repo.gitWith(env, 'worktree', 'add', '-q', '-b', branch, path);
  return { path, add };
}

export const inWorktree = (setup: Setup, path: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) => setup.repo.dbguard(args, env, undefined, path);
export const urlIn = (setup: Setup, path: string) => inWorktree(setup, path, ['db', 'url', '--show-password']).stdout.trim();

