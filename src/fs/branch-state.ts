/**
 * Branch databases' state beside the cache (DESIGN §17): which branch the worktree's database belongs to
 * (so a detached HEAD in between does not lose track), and a switch begun and not known to be finished.
 * The server is the truth of a switch (one transaction); these files say what to ask it.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parsePendingSwitch, type PendingSwitch } from '../core/branch-switch.js';
import { BRANCH_DATABASES_FILE } from '../core/hook-check.js';
import { readStateText, writeFileAtomic } from './state.js';

/** A branch name is at most a few hundred bytes; the files are small. */
const MAX_BYTES = 16 * 1024;

export interface BranchOwner {
  /** The worktree's database, as the server names it. */
  readonly database: string;
  readonly branch: string;
  /** When the database last became this branch's by a switch (undo before that is not needed, §17). */
  readonly switchedAt: string | null;
}

const ownerFile = (cacheFile: string) => join(dirname(cacheFile), 'branch-database.json');
const pendingFile = (cacheFile: string) => join(dirname(cacheFile), 'branch-switch.json');

export function readBranchOwner(cacheFile: string, database: string): BranchOwner | null {
  try {
    const owner = JSON.parse(readStateText(ownerFile(cacheFile), MAX_BYTES) ?? 'null') as Partial<BranchOwner> | null;
    if (owner?.database !== database || typeof owner.branch !== 'string') return null;
    return { database, branch: owner.branch, switchedAt: typeof owner.switchedAt === 'string' ? owner.switchedAt : null };
  } catch {
    return null;
  }
}

export function writeBranchOwner(cacheFile: string, owner: BranchOwner): void {
  writeFileAtomic(ownerFile(cacheFile), JSON.stringify(owner), 0o644);
}

export function readPendingSwitch(cacheFile: string): PendingSwitch | null {
  return parsePendingSwitch(readStateText(pendingFile(cacheFile), MAX_BYTES));
}

export function writePendingSwitch(cacheFile: string, pending: PendingSwitch): void {
  writeFileAtomic(pendingFile(cacheFile), JSON.stringify(pending), 0o644);
}

export function removePendingSwitch(cacheFile: string): void {
  rmSync(pendingFile(cacheFile), { force: true });
}

/** The shim's marker in the worktree's git dir: present exactly while branch databases are on. */
export function markBranchDatabases(gitDir: string, enabled: boolean): void {
  const marker = join(gitDir, BRANCH_DATABASES_FILE);
  try {
    if (enabled) writeFileSync(marker, '', { flag: 'a' });
    else rmSync(marker, { force: true });
  } catch {
    // A git dir we may not write: same-commit branch checkouts then wait for the next one that moves.
  }
}
