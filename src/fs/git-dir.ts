/**
 * What the hook needs to know about the repository without spawning git: the worktree's root and its
 * own git dir (a linked worktree's `.git` is a file naming it), whether a rebase or bisect is under way,
 * and whether HEAD is detached.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface GitLocation {
  /** The worktree's top folder (where `.git` is). */
  readonly worktree: string;
  /** This worktree's git dir: `.git`, or `.git/worktrees/<name>` for a linked worktree. */
  readonly gitDir: string;
}

export function findGitLocation(from: string): GitLocation | null {
  let dir = resolve(from);
  for (;;) {
    const dotGit = join(dir, '.git');
    const stats = statSync(dotGit, { throwIfNoEntry: false });
    if (stats?.isDirectory()) return { worktree: dir, gitDir: dotGit };
    if (stats?.isFile()) {
      const match = /^gitdir:\s*(.+?)\s*$/m.exec(readFileSync(dotGit, 'utf8'));
      return match ? { worktree: dir, gitDir: resolve(dir, match[1] as string) } : null;
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * A rebase (also `pull --rebase`) is replaying commits: its checkouts are not the user's. Only a
 * checkout is judged by GIT_REFLOG_ACTION: a `pull --rebase` that fast-forwards merges, and its
 * post-merge is the only hook that runs (no commit is rewritten, so no post-rewrite follows). A rebase
 * whose todo list is empty when it checks out (a fast-forward `git rebase origin/main`, or every commit
 * already upstream) rewrites nothing either: that checkout is the only hook it runs, so it is checked.
 */
export function rebaseInProgress(gitDir: string, env: NodeJS.ProcessEnv, hook = 'post-checkout'): boolean {
  if (existsSync(join(gitDir, 'rebase-merge'))) return !(hook === 'post-checkout' && nothingToReplay(join(gitDir, 'rebase-merge', 'git-rebase-todo')));
  return existsSync(join(gitDir, 'rebase-apply'))
    || (hook === 'post-checkout' && /^(?:rebase|pull --rebase)\b/.test(env.GIT_REFLOG_ACTION ?? ''));
}

/** The sequencer's todo list holds no command (only comments and blank lines); unreadable: unknown, so no. */
function nothingToReplay(todoFile: string): boolean {
  try {
    return readFileSync(todoFile, 'utf8').split('\n').every((line) => /^\s*(?:#|$)/.test(line));
  } catch {
    return false;
  }
}

/** `pull --autostash` (rebase or merge) holds the work tree's changes in a stash it has not applied back yet. */
export function autostashPending(gitDir: string): boolean {
  return existsSync(join(gitDir, 'rebase-merge', 'autostash')) || existsSync(join(gitDir, 'rebase-apply', 'autostash')) || existsSync(join(gitDir, 'MERGE_AUTOSTASH'));
}

export function bisectInProgress(gitDir: string): boolean {
  return existsSync(join(gitDir, 'BISECT_LOG'));
}

export function headIsDetached(gitDir: string): boolean {
  const head = readOrNull(join(gitDir, 'HEAD'));
  // A rebase detaches HEAD while it works and puts its branch (head-name) back at the end.
  return head !== null && !head.startsWith('ref:') && !(readOrNull(join(gitDir, 'rebase-merge', 'head-name'))?.startsWith('refs/heads/') ?? false);
}

/** HEAD's text (`ref: refs/heads/…` or a commit), or null. */
export function headText(gitDir: string): string | null {
  return readOrNull(join(gitDir, 'HEAD'));
}

/** The last entry of HEAD's reflog (the checkout the hook runs for), reading only the file's tail; null: no reflog. */
export function lastHeadReflog(gitDir: string): string | null {
  let fd: number;
  try {
    fd = openSync(join(gitDir, 'logs', 'HEAD'), 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 16 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n').filter((line) => line !== '');
    return lines.at(-1) ?? null;
  } finally {
    closeSync(fd);
  }
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The newest git stash entry's commit, from refs/stash's reflog in the repository's common git dir (a
 * linked worktree's git dir names it in `commondir`), without spawning git. null: no stash.
 */
export function newestStash(gitDir: string): string | null {
  const common = readOrNull(join(gitDir, 'commondir'))?.trim();
  const log = readOrNull(join(common ? resolve(gitDir, common) : gitDir, 'logs', 'refs', 'stash'));
  const sha = log?.trimEnd().split('\n').at(-1)?.split(' ')[1];
  return sha !== undefined && /^[0-9a-f]{40,64}$/.test(sha) ? sha : null;
}

/** The repository's common git dir: a linked worktree's `commondir` names it; otherwise its own git dir. */
export function commonGitDir(gitDir: string): string {
  const common = readOrNull(join(gitDir, 'commondir'))?.trim();
  return common ? resolve(gitDir, common) : gitDir;
}

/** A local branch's reflog text (empty when it has none). */
export function branchReflog(gitDir: string, branch: string): string {
  return readOrNull(join(commonGitDir(gitDir), 'logs', 'refs', 'heads', ...branch.split('/'))) ?? '';
}
