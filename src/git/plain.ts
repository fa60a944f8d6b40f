/**
 * git itself, run directly (execFile, no shell). simple-git was the first way in; it cost a module load
 * and one process per file read on the paths that ask the database (the hook's check, rollback), and it
 * warns about dbguard's own config keys (dbguard.project, .bin, .node) as keys missing from its allow-list.
 */
import { execFile } from 'node:child_process';

/** git's stdout; rejects with git's own message (its stderr) when it exits non-zero. */
export function runGit(cwd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // Paths as they are (no octal escapes or quotes for non-ASCII names): we compare them with file names.
    execFile('git', ['-c', 'core.quotePath=false', ...args], { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(stderr.trim() || error.message, { cause: error }));
      else resolve(stdout);
    });
  });
}

/**
 * Several `<rev>:<path>` objects in one `git cat-file --batch` (one process, not one `git show` each):
 * each one's text (decoded as `git show`'s output is), or null when that revision does not have it. A
 * name with a line break cannot be asked on cat-file's line protocol: it gets a `git show` of its own.
 */
export async function readObjects(cwd: string, specs: readonly string[]): Promise<Map<string, string | null>> {
  const found = new Map<string, string | null>();
  const batched = [...new Set(specs)].filter((spec) => !spec.includes('\n'));
  for (const spec of specs.filter((s) => s.includes('\n'))) found.set(spec, await runGit(cwd, ['show', spec]).catch(() => null));
  if (batched.length === 0) return found;
  const out = await new Promise<Buffer>((resolve, reject) => {
    const child = execFile('git', ['-c', 'core.quotePath=false', 'cat-file', '--batch'], { cwd, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(stderr.toString('utf8').trim() || error.message, { cause: error }));
      else resolve(stdout);
    });
    child.stdin?.on('error', () => undefined); // a git that failed to start: its error comes through the callback
    child.stdin?.end(`${batched.join('\n')}\n`);
  });
  // Per object: "<oid> <type> <size>\n<content>\n", or "<spec> missing\n" (also "ambiguous").
  let at = 0;
  for (const spec of batched) {
    const eol = out.indexOf(0x0a, at);
    if (eol < 0) break;
    const header = out.subarray(at, eol).toString('utf8');
    at = eol + 1;
    const match = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!match) {
      found.set(spec, null);
      continue;
    }
    const size = Number(match[2]);
    found.set(spec, match[1] === 'blob' ? out.subarray(at, at + size).toString('utf8') : null);
    at += size + 1;
  }
  return found;
}
