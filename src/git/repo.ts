/** Git plumbing, loaded lazily: the hook's clean path never imports this file. */
import { DbguardError } from '../core/errors.js';
import { migrationNameOfPath, type MigrationFormat } from '../core/format.js';
import { readObjects, runGit } from './plain.js';

/** The repository (or a folder inside it) that git runs in. */
export interface GitRepo {
  readonly dir: string;
}

export function openRepo(dir: string): GitRepo {
  return { dir };
}

function gitFailed(what: string, error: unknown): DbguardError {
  return new DbguardError('GIT_FAILED', `git ${what} failed: ${(error as Error).message.trim().split('\n')[0]}`, {
    hint: 'check that this is a git repository and git works here', cause: error,
  });
}

/**
 * `git log --name-only -z --format=@%H` output: NUL-separated, each commit's "@<sha>" then its paths,
 * exactly as they are (no C quoting of names with quotes or non-ASCII characters).
 */
function commitsAndFiles(out: string): Array<{ commit: string; path: string }> {
  const found: Array<{ commit: string; path: string }> = [];
  let commit = '';
  for (const raw of out.split('\0')) {
    const token = raw.replace(/^\n/, '');
    if (token.startsWith('@')) commit = token.slice(1);
    else if (token !== '') found.push({ commit, path: token });
  }
  return found;
}

/**
 * `<rev>:<path>` reads the path from the repository's top, whatever the working directory; a project
 * in a monorepo folder (services/api) names its paths from its own folder, so they get git's "./".
 */
export function atRevision(rev: string, path: string): string {
  return `${rev}:${path.startsWith('/') || path.startsWith('./') || path.startsWith('../') ? path : `./${path}`}`;
}

/** A file's text at a revision, or null when that revision does not have it. */
export async function showFile(git: GitRepo, rev: string, path: string): Promise<string | null> {
  return (await showFiles(git, [{ rev, path }])).get(atRevision(rev, path)) ?? null;
}

/** Files' texts at revisions in one git process, by `atRevision(rev, path)`; null for what a revision lacks. */
export async function showFiles(git: GitRepo, files: ReadonlyArray<{ rev: string; path: string }>): Promise<Map<string, string | null>> {
  if (files.length === 0) return new Map();
  try {
    return await readObjects(git.dir, files.map(({ rev, path }) => atRevision(rev, path)));
  } catch {
    return new Map();
  }
}

/** Paths under `dir` at a revision (one ls-tree call, not one show per file). */
export async function listTree(git: GitRepo, rev: string, dir: string): Promise<string[]> {
  try {
    const out = await runGit(git.dir, ['ls-tree', '--full-tree', '-z', '--name-only', atRevision(rev, dir)]);
    return out.split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * `git log` over every ref's history, commits that added or changed the paths. --full-history: without
 * it git prunes the parents of a merge that is the same as its first one, and a stash is such a merge —
 * the untracked files `git stash -u` took away (an applied, uncommitted migration) live in its third parent.
 */
const HISTORY = ['--all', '--full-history', '--no-renames', '--diff-filter=AM', '--name-only', '-z', '--format=@%H'];

/**
 * Down files that ever existed under `dir` in any ref's history, newest commit first:
 * `[commit, fileName]` pairs from commits that added or modified them.
 */
export async function downFilesInHistory(git: GitRepo, dir: string, format: MigrationFormat): Promise<Array<{ commit: string; file: string }>> {
  let out: string;
  try {
    out = await runGit(git.dir, ['log', ...HISTORY, '--', `:(glob)${dir}/${format.downFilesGlob}`]);
  } catch (error) {
    throw gitFailed('log', error);
  }
  return commitsAndFiles(out).map(({ commit, path }) => ({ commit, file: migrationNameOfPath(format, path) }));
}

/**
 * The newest commit (on any ref) that has version's up file under `dir`, with that commit's migration
 * file names: the tree a migrator applied that version from (§3, untracked intermediates).
 */
export async function treeWithVersion(git: GitRepo, dir: string, version: bigint, format: MigrationFormat): Promise<{ commit: string; files: string[] } | null> {
  let out: string;
  try {
    // Leading zeros are allowed (000445_x), so the glob is loose and each name is parsed.
    out = await runGit(git.dir, ['log', ...HISTORY, '--', `:(glob)${dir}/${format.upFileGlob(version)}`]);
  } catch (error) {
    throw gitFailed('log', error);
  }
  const hit = commitsAndFiles(out).find(({ path }) => format.parseFileName(migrationNameOfPath(format, path))?.version === version);
  return hit ? { commit: hit.commit, files: await listTree(git, hit.commit, dir) } : null;
}

/** Migration files under `dir` at a revision, with their blob ids (one ls-tree call). */
export async function treeBlobs(git: GitRepo, rev: string, dir: string): Promise<Map<string, string>> {
  let out: string;
  try {
    out = await runGit(git.dir, ['ls-tree', '--full-tree', '-z', atRevision(rev, dir)]);
  } catch {
    return new Map(); // no such folder at that revision: no migrations there
  }
  const blobs = new Map<string, string>();
  for (const entry of out.split('\0')) {
    const match = /^\d+ blob ([0-9a-f]+)\t(.+)$/s.exec(entry);
    if (match) blobs.set(match[2] as string, match[1] as string);
  }
  return blobs;
}

export async function mergeBase(git: GitRepo, a: string, b: string): Promise<string> {
  try {
    return (await runGit(git.dir, ['merge-base', a, b])).trim();
  } catch (error) {
    throw new DbguardError('GIT_FAILED', `no merge-base between ${a} and ${b}: ${(error as Error).message.trim().split('\n')[0]}`, {
      hint: `check that ${a} exists here (git fetch, then dbguard lint --base origin/main)`, cause: error,
    });
  }
}

export async function isInsideRepo(git: GitRepo): Promise<boolean> {
  try {
    return (await runGit(git.dir, ['rev-parse', '--is-inside-work-tree'])).trim() === 'true';
  } catch {
    return false;
  }
}
