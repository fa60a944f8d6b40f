/**
 * Which worktree of which repository a folder is in, from git's own files, without spawning git (the
 * hook's clean path reads this): a linked worktree's git dir names the common one in `commondir`.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { CheckoutPlace } from '../core/checkout-place.js';
import { findGitLocation } from './git-dir.js';
import { realPathOf } from './paths.js';

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** A `[core]` key of the common git dir's config (`bare`, `worktree`), read plainly; null when absent. */
function coreKey(commonDir: string, key: string): string | null {
  const text = readOrNull(resolve(commonDir, 'config'));
  if (text === null) return null;
  let inCore = false;
  for (const line of text.split('\n')) {
    const section = /^\s*\[([^\]\s]+)[^\]]*\]/.exec(line);
    if (section) {
      inCore = (section[1] as string).toLowerCase() === 'core';
      continue;
    }
    const entry = inCore ? /^\s*([A-Za-z][A-Za-z0-9-]*)\s*=\s*(.*?)\s*$/.exec(line) : null;
    if (entry && (entry[1] as string).toLowerCase() === key) return (entry[2] as string).replace(/^"(.*)"$/, '$1');
  }
  return null;
}

/** The checkout holding `root`, or null outside git (then the folder is its own server's place). */
export function readCheckoutPlace(root: string): CheckoutPlace | null {
  const git = findGitLocation(root);
  if (git === null) return null;
  const common = readOrNull(resolve(git.gitDir, 'commondir'))?.trim();
  const worktreeRealPath = realPathOf(git.worktree);
  if (!common) return { worktree: git.worktree, worktreeRealPath, linked: false, mainWorktree: git.worktree, commonDir: git.gitDir };
  const commonDir = resolve(git.gitDir, common);
  const bare = /^(?:true|yes|on|1)$/i.test(coreKey(commonDir, 'bare') ?? '');
  const configured = coreKey(commonDir, 'worktree');
  const mainWorktree = bare ? null : configured ? resolve(commonDir, configured) : basename(commonDir) === '.git' ? dirname(commonDir) : null;
  return { worktree: git.worktree, worktreeRealPath, linked: true, mainWorktree, commonDir };
}
