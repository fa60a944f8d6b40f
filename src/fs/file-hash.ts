/** sha256 of migration files; node:crypto is loaded only when asked (the hook's clean path never is). */
import { readRegularFile } from './migration-files.js';

/** sha256 of each named file that can be read; the others are left out (the comparison judges them by name). */
export async function hashFiles(dir: string, names: readonly string[]): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  if (names.length === 0) return hashes;
  const { createHash } = await import('node:crypto');
  for (const name of names) {
    try {
      hashes.set(name, createHash('sha256').update(readRegularFile(dir, name)).digest('hex'));
    } catch {
      // Unreadable: the listing's stat already reports it.
    }
  }
  return hashes;
}
