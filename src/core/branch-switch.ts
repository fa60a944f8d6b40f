/**
 * Branch databases (DESIGN §17) as data: which checkout switches the worktree's database from one
 * branch's to another's, what a switch left half done says about itself, and which saved databases
 * `"branchDatabases": { "keep": N }` lets go. No I/O: the git dir's HEAD and reflog are read elsewhere.
 */

export interface BranchSwitch {
  /** The branch whose database the worktree is leaving. */
  readonly from: string;
  /** The branch checked out now, whose database the worktree takes. */
  readonly to: string;
}

const NULL_OR_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The branch HEAD names (`ref: refs/heads/<branch>`), or null for a detached HEAD. */
export function branchOfHead(head: string | null): string | null {
  const match = /^ref: refs\/heads\/(.+?)\s*$/.exec(head ?? '');
  return match ? (match[1] as string) : null;
}

/**
 * A branch checkout that moves the worktree to another branch's database. The branch the database
 * belongs to is `owner` when known (a detached HEAD in between keeps it); else the reflog entry git
 * wrote just before the hook ran ("checkout: moving from A to B", the same for checkout, switch and
 * checkout -b, whose new commit must be the hook's). A file checkout, `git worktree add` (a null
 * previous commit) and a detached HEAD never switch; rebase and bisect are the caller's to rule out.
 * `head`: HEAD's text; `reflog`: the last line of logs/HEAD.
 */
export function branchCheckout(args: readonly string[], head: string | null, reflog: string | null, owner: string | null): BranchSwitch | null {
  const [prev, next, flag] = args;
  if (flag !== '1' || prev === undefined || next === undefined || /^0+$/.test(prev)) return null;
  const to = branchOfHead(head);
  if (to === null) return null;
  const from = owner ?? reflogFrom(reflog, prev, next, to);
  return from === null || from === to ? null : { from, to };
}

/** The branch a checkout to `to` left, by its reflog entry; null when that entry is not this checkout's or it left a detached HEAD. */
function reflogFrom(reflog: string | null, prev: string, next: string, to: string): string | null {
  const tab = reflog?.indexOf('\t') ?? -1;
  if (reflog === null || tab < 0) return null;
  const [oldSha, newSha] = reflog.slice(0, tab).split(' ');
  const moved = /^checkout: moving from (.+)$/s.exec(reflog.slice(tab + 1).replace(/\n$/, ''))?.[1];
  const suffix = ` to ${to}`;
  if (oldSha !== prev || newSha !== next || moved === undefined || !moved.endsWith(suffix)) return null;
  const from = moved.slice(0, moved.length - suffix.length);
  // From a detached HEAD the reflog names a commit: that checkout keeps today's behaviour.
  return from === '' || from === 'HEAD' || NULL_OR_SHA.test(from) ? null : from;
}

/** A switch begun and not known to be finished, kept beside the cache until it is (a kill, a busy database). */
export interface PendingSwitch extends BranchSwitch {
  /** The worktree's database (its name on the server). */
  readonly database: string;
  readonly startedAt: string;
}

export function parsePendingSwitch(text: string | null): PendingSwitch | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<PendingSwitch>;
    return typeof value.from === 'string' && typeof value.to === 'string' && typeof value.database === 'string' && typeof value.startedAt === 'string'
      ? { from: value.from, to: value.to, database: value.database, startedAt: value.startedAt } : null;
  } catch {
    return null;
  }
}

export interface SavedBranchDatabase {
  readonly name: string;
  /** When it was last saved, that is last used (ISO 8601). */
  readonly savedAt: string;
  readonly sessions: number;
}

/** The saved databases beyond `keep`, least recently used first; one with a session is never let go. */
export function savedBeyondKeep(saved: readonly SavedBranchDatabase[], keep: number | null): string[] {
  if (keep === null || saved.length <= keep) return [];
  const oldestFirst = [...saved].sort((a, b) => (a.savedAt < b.savedAt ? -1 : a.savedAt > b.savedAt ? 1 : a.name.localeCompare(b.name)));
  return oldestFirst.slice(0, saved.length - keep).filter((s) => s.sessions === 0).map((s) => s.name);
}

/**
 * The names a branch had before, newest first, from its reflog: `git branch -m A B` moves A's reflog to
 * B and adds "Branch: renamed refs/heads/A to refs/heads/B" (git fires no hook for it), so a saved
 * database of A is B's.
 */
export function formerNames(reflog: string, branch: string): string[] {
  const names: string[] = [];
  for (const match of reflog.matchAll(/\tBranch: renamed refs\/heads\/(.+?) to refs\/heads\/(.+)$/gm)) {
    for (const name of [match[1], match[2]] as string[]) if (name !== branch && !names.includes(name)) names.push(name);
  }
  return names.reverse();
}
