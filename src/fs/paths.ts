/** Where paths really lead: the checks that keep dbguard inside the repository share these. */
import { realpathSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { findGitLocation } from './git-dir.js';

export const isWithin = (path: string, folder: string) => path === folder || path.startsWith(`${folder}${sep}`);

/** The real path of `path`, or of its nearest folder that exists (the rest appended): what a link leads to. */
export function realPathOf(path: string): string {
  const rest: string[] = [];
  for (let current = path; ; current = dirname(current)) {
    try {
      return join(realpathSync(current), ...rest.reverse());
    } catch {
      if (dirname(current) === current) return path;
      rest.push(basename(current));
    }
  }
}

/** The real path of the repository (its worktree) holding `path`, or of `path` itself outside git. */
export function repositoryRealPath(path: string): string {
  return realPathOf(findGitLocation(path)?.worktree ?? path);
}
