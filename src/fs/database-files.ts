/**
 * When a database on a local server was last written: PostgreSQL keeps no per-database access time, but
 * its files in `<data dir>/base/<oid>` change when data reaches the disk (at the latest by the next
 * checkpoint, every few minutes). Reads alone change nothing, so this is the last write, not the last read.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The newest modification time of the database's files, or null where they cannot be read (not this machine's, no permission). */
export function lastFileWrite(dataDir: string, oid: number): Date | null {
  const dir = join(dataDir, 'base', String(oid));
  let newest = 0;
  try {
    for (const file of readdirSync(dir)) {
      const mtime = statSync(join(dir, file), { throwIfNoEntry: false })?.mtimeMs ?? 0;
      if (mtime > newest) newest = mtime;
    }
  } catch {
    return null;
  }
  return newest === 0 ? null : new Date(newest);
}
