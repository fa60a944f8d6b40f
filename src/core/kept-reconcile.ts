/**
 * Which kept databases (DESIGN §17) are gone: `git worktree remove` and `git branch -D` run no hook, so
 * what git lists now is compared with what each database's comment says it belongs to. Pure: the git
 * listing and the file-system facts are read by the adapters and handed here.
 *
 * The one rule that matters: a listing git could not give, or one that cannot be the whole truth (no
 * main worktree, not the worktree we run in), is not "nothing exists" — then nothing is gone.
 */
import { savedBranchDatabaseName, worktreeDatabaseName, type KeptDatabaseMeta } from './kept-database.js';

/** One entry of `git worktree list --porcelain`. */
export interface WorktreeEntry {
  readonly path: string;
  /** The checked-out commit; null when git shows none or the null id (an unborn or unreadable HEAD). */
  readonly head: string | null;
  /** The short branch name, or null (detached, bare, unreadable). */
  readonly branch: string | null;
  readonly bare: boolean;
  /** Git itself would prune it (`git worktree prune`): its folder is gone. */
  readonly prunable: boolean;
}

/** What git says exists, or why it could not say. */
export type GitView =
  | {
    readonly listed: true; readonly worktrees: readonly WorktreeEntry[]; readonly branches: ReadonlySet<string> | null; readonly branchesUnknown: string | null;
    /** Names branches had before `git branch -m` (no hook tells it), to the branch that has it now. */
    readonly renamed?: ReadonlyMap<string, string>;
  }
  | { readonly listed: false; readonly reason: string };

/** Git's C-style quoting of a path with a newline, a quote or a backslash (`core.quotePath=false` keeps the rest). */
function unquote(value: string): string {
  if (!value.startsWith('"') || !value.endsWith('"') || value.length < 2) return value;
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', v: '\v' };
  const bytes: number[] = [];
  const body = value.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const char = body[i] as string;
    if (char !== '\\') {
      bytes.push(...new TextEncoder().encode(char));
      continue;
    }
    const next = body[i + 1] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(...new TextEncoder().encode(escapes[next] ?? next));
      i += 1;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

const NULL_ID = /^0+$/;

/** `git worktree list --porcelain` as entries (blank-line separated records of `key value` lines). */
export function parseWorktreeList(text: string): WorktreeEntry[] {
  const entries: WorktreeEntry[] = [];
  for (const record of text.split(/\n\n+/)) {
    const lines = record.split('\n').filter((l) => l !== '');
    const first = lines[0];
    if (first === undefined || !first.startsWith('worktree ')) continue;
    const value = (key: string) => {
      const line = lines.find((l) => l === key || l.startsWith(`${key} `));
      return line === undefined ? undefined : line.slice(key.length + 1);
    };
    const head = value('HEAD');
    const branch = value('branch');
    entries.push({
      path: unquote(first.slice('worktree '.length)),
      head: head === undefined || NULL_ID.test(head) ? null : head,
      branch: branch === undefined ? null : branch.replace(/^refs\/heads\//, ''),
      bare: value('bare') !== undefined,
      prunable: value('prunable') !== undefined,
    });
  }
  return entries;
}

/**
 * The view git gave, trusted only when it can be whole: a listing holds the main worktree first (or the
 * bare repository) and the worktree dbguard runs in. Branches are trusted only when every branch a
 * worktree has checked out (with a commit) is among them: an empty or cut list reads "all deleted".
 * `currentWorktree` and every path are canonical (the adapter resolves them the same way).
 */
export function judgeGitView(worktrees: readonly WorktreeEntry[], branches: readonly string[] | null, currentWorktree: string | null, branchesError: string | null = null): GitView {
  const main = worktrees[0];
  if (main === undefined) return { listed: false, reason: 'git listed no worktree at all, not even the main one' };
  if (main.prunable) return { listed: false, reason: `git lists the main worktree ${main.path} as missing` };
  if (currentWorktree !== null && !worktrees.some((w) => w.path === currentWorktree && !w.prunable)) {
    return { listed: false, reason: `git does not list ${currentWorktree}, the worktree this command runs in` };
  }
  if (branches === null) return { listed: true, worktrees, branches: null, branchesUnknown: branchesError ?? 'git could not list the branches' };
  const known = new Set(branches);
  const missing = worktrees.find((w) => w.branch !== null && w.head !== null && !known.has(w.branch));
  if (missing) return { listed: true, worktrees, branches: null, branchesUnknown: `git lists branch "${missing.branch}" as checked out in ${missing.path} but not among the branches` };
  return { listed: true, worktrees, branches: known, branchesUnknown: null };
}

export type GoneReason = 'worktree-removed' | 'branch-deleted';

export interface KeptStatus {
  /** Null: not known (git could not list). */
  readonly worktreeExists: boolean | null;
  /** Its folder still holds a `.git` though git no longer lists it (a damaged `.git/worktrees` entry). */
  readonly unlisted: boolean;
  /** A saved branch database's branch; null for a worktree database, or not known. */
  readonly branchExists: boolean | null;
  /** Why `dbguard db prune` may drop it; null: it is in use, or nothing can be said. */
  readonly gone: GoneReason | null;
}

/**
 * A kept database's state. `folderIsWorktree`: its recorded worktree path still holds a `.git` entry —
 * then it is never gone, whatever git lists (git drops an entry whose `gitdir` file is damaged, and
 * `git worktree repair` brings it back).
 */
export function keptStatus(meta: KeptDatabaseMeta, view: GitView, canonicalWorktree: string, folderIsWorktree: boolean): KeptStatus {
  if (!view.listed) return { worktreeExists: null, unlisted: false, branchExists: null, gone: null };
  const listed = view.worktrees.some((w) => w.path === canonicalWorktree && !w.prunable);
  const worktreeExists = listed || folderIsWorktree;
  const unlisted = !listed && folderIsWorktree;
  if (meta.kind === 'worktree') return { worktreeExists, unlisted, branchExists: null, gone: worktreeExists ? null : 'worktree-removed' };
  // A saved database of a branch renamed since is the renamed branch's: not removable.
  const branchExists = meta.branch === null || view.branches === null ? null : view.branches.has(meta.branch) || (view.renamed?.has(meta.branch) ?? false);
  const gone = !worktreeExists ? 'worktree-removed' : branchExists === false ? 'branch-deleted' : null;
  return { worktreeExists, unlisted, branchExists, gone };
}

/**
 * Whether a kept database is this project's: its name is the one the project's main database and its
 * comment give (§17's naming). On a server several projects share (an external one), another project's
 * worktrees are not in this repository's listing and must never read as removed.
 */
export function keptByProject(mainDatabase: string, name: string, meta: KeptDatabaseMeta): boolean {
  const worktreeDatabase = worktreeDatabaseName(mainDatabase, meta.worktree);
  if (meta.kind === 'worktree') return name === worktreeDatabase;
  if (meta.branch === null) return false;
  return name === savedBranchDatabaseName(mainDatabase, meta.branch) || name === savedBranchDatabaseName(worktreeDatabase, meta.branch);
}
