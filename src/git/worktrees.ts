/**
 * What git says exists now: the worktrees (`git worktree list --porcelain`) and the local branches, run
 * directly (no shell, no simple-git), with every path resolved the one way the kept databases' paths
 * are compared. Never throws: a git that fails or is missing is a view that says so.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { judgeGitView, parseWorktreeList, type GitView } from '../core/kept-reconcile.js';
import { runGit } from './plain.js';

/** A path as the file system resolves it (symlinks, `/tmp` → `/private/tmp`), or as written when it is gone. */
export function canonicalPath(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return resolve(path);
  }
}

function firstLine(error: unknown): string {
  if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return 'git was not found on PATH';
  return ((error as Error).message.split('\n')[0] ?? '').trim() || 'git failed';
}

/**
 * Git's view of the repository holding `root`, judged whole or not (core/kept-reconcile); `worktree`
 * is the top folder of the worktree `root` is in, which a whole listing must hold.
 */
export async function readGitView(root: string, worktree: string): Promise<GitView> {
  const [worktrees, branches] = await Promise.all([
    runGit(root, ['worktree', 'list', '--porcelain']).then((text) => ({ text }), (error: unknown) => ({ error: firstLine(error) })),
    runGit(root, ['for-each-ref', '--format=%(refname)', 'refs/heads/']).then((text) => ({ text }), (error: unknown) => ({ error: firstLine(error) })),
  ]);
  if ('error' in worktrees) return { listed: false, reason: `git worktree list failed: ${worktrees.error}` };
  const entries = parseWorktreeList(worktrees.text).map((w) => ({ ...w, path: canonicalPath(w.path) }));
  const branchNames = 'error' in branches ? null : branches.text.split('\n').filter((b) => b.startsWith('refs/heads/')).map((b) => b.slice('refs/heads/'.length));
  return judgeGitView(entries, branchNames, canonicalPath(worktree), 'error' in branches ? `git for-each-ref failed: ${branches.error}` : null);
}
