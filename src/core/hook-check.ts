/**
 * The hook's pure decisions (DESIGN §7): which revisions a git hook invocation compares, and the cheap
 * "is every applied file still here?" test over a directory listing. No I/O.
 */
import type { CacheSummary } from './cache.js';
import { compareVersions, maxVersion } from './catalog.js';
import type { MigrationFormat } from './format.js';

/** The file in a worktree's git dir that lets the shim skip node after a clean check. */
export const FAST_PATH_FILE = 'dbguard-fast-path';
/** The file in a worktree's git dir that says its database follows the branch (§17): every branch checkout runs node. */
export const BRANCH_DATABASES_FILE = 'dbguard-branch-databases';

export interface HookRevisions {
  /** The revision whose tree still has the files the database was migrated with. */
  readonly prev: string;
  readonly next: string;
}

/** post-rewrite's stdin: one "old new [extra]" line per rewritten commit. */
export function parseRewritten(text: string): Array<{ old: string; new: string }> {
  return text.split('\n').map((line) => line.trim().split(/\s+/)).filter((parts) => parts.length >= 2 && parts[0] !== '')
    .map(([old, next]) => ({ old: old as string, new: next as string }));
}

export function hookRevisions(name: string, args: readonly string[], rewritten: string | undefined): HookRevisions | null {
  if (name === 'post-checkout') {
    const [prev, next, branchFlag] = args;
    // File checkouts (flag 0) and checkouts that do not move HEAD change no migrations we track.
    return branchFlag === '1' && prev !== undefined && next !== undefined && prev !== next ? { prev, next } : null;
  }
  if (name === 'post-merge') return { prev: 'ORIG_HEAD', next: 'HEAD' };
  if (name === 'post-rewrite') {
    // The last line's old commit is the old tip (amend: the only line). ORIG_HEAD is not set by amend.
    const last = parseRewritten(rewritten ?? '').at(-1);
    return last ? { prev: last.old, next: last.new } : { prev: 'ORIG_HEAD', next: 'HEAD' };
  }
  return null;
}

export interface ListingCheck {
  /** Every applied up file is in the listing and statable. */
  readonly allPresent: boolean;
  /** Up files in the listing that the cache does not list (new or out-of-order pending migrations). */
  readonly pending: readonly string[];
}

export function checkListing(summary: CacheSummary, names: readonly string[], unreadable: ReadonlyMap<string, string>, format: MigrationFormat): ListingCheck {
  const applied = new Set(summary.filenames);
  const checkUnreadable = unreadable.size > 0;
  const pending: string[] = [];
  let found = 0;
  for (const name of names) {
    if (!format.isUpFile(name)) continue;
    if (!applied.has(name)) pending.push(name);
    else if (!(checkUnreadable && unreadable.has(name))) found++;
  }
  return { allPresent: found === applied.size, pending };
}

/** Versions of pending up files, ascending (names that do not parse are the catalog's to report). */
export function pendingVersions(pending: readonly string[], format: MigrationFormat): bigint[] {
  return pending.map((name) => format.parseFileName(name)?.version).filter((v): v is bigint => v !== undefined).sort(compareVersions);
}

/** The highest applied version that is not missing (DESIGN §1's common ancestor, from the cache alone). */
export function ancestorAfter(applied: Iterable<bigint>, missing: ReadonlySet<bigint>): bigint | null {
  return maxVersion([...applied].filter((version) => !missing.has(version)));
}
