/**
 * git itself, run directly (execFile, no shell), for what must not depend on simple-git: dbguard's own
 * config keys (dbguard.project, .bin, .node), which simple-git 4.1 warns about on every use as keys
 * missing from its allow-list (and says its next major blocks).
 */
import { execFile } from 'node:child_process';

/** git's stdout; rejects with git's own message (its stderr) when it exits non-zero. */
export function runGit(cwd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // Paths as they are (no octal escapes or quotes for non-ASCII names), as openRepo sets it for simple-git.
    execFile('git', ['-c', 'core.quotePath=false', ...args], { cwd, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(stderr.trim() || error.message, { cause: error }));
      else resolve(stdout);
    });
  });
}
