/** The migrations directory's listing: cheap, and all the hook's clean path reads. */
import { lstatSync, opendirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { buildCatalog } from '../core/catalog.js';
import type { MigrationFormat } from '../core/format.js';
import type { DiskState } from '../core/compare.js';
import { DbguardError } from '../core/errors.js';
import { isWithin, repositoryRealPath } from './paths.js';

export function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
}

export interface Listing {
  readonly names: string[];
  readonly unreadable: Map<string, string>;
  /** Links and other entries that are not plain files (their targets can change unseen). */
  readonly nonRegular: number;
  /** The folder does not exist: on this branch there are no migrations (§2), not a configuration error. */
  readonly missing: boolean;
}

/**
 * The folder's entries by name; for a tool that keeps each migration in a folder of its own (Prisma),
 * each folder is named by the file it holds (`<folder>/migration.sql`), unread until needed.
 */
export function listMigrationFiles(dir: string, format?: MigrationFormat): Listing {
  // opendir streams entries in directory order; readdirSync goes through libuv's scandir, which also
  // sorts them (a quarter of the listing's time at 40,000 files). Order is the catalog's job.
  const entries: Dirent[] = [];
  try {
    const handle = opendirSync(dir, { bufferSize: 1024 });
    try {
      for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) entries.push(entry);
    } finally {
      handle.closeSync();
    }
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return { names: [], unreadable: new Map(), nonRegular: 0, missing: true };
    if (code === 'ENOTDIR') {
      throw new DbguardError('MIGRATIONS_DIR_NOT_FOUND', `migrations directory ${dir} is a file, not a folder`, {
        hint: 'set "migrationsDir" in dbguard.config.json (or DBGUARD_MIGRATIONS_DIR)', details: { dir },
      });
    }
    throw new DbguardError('MIGRATIONS_DIR_UNREADABLE', `cannot read migrations directory ${dir} (${code})`, {
      hint: `check the permissions of ${dir}`, details: { dir, error: code },
    });
  }
  const names: string[] = [];
  const unreadable = new Map<string, string>();
  let nonRegular = 0;
  const inFolder = format?.migrationFile;
  // The folder of the format's index (Drizzle's meta/): expected, and watched through the index file itself.
  const indexFolder = format?.index?.file.split('/')[0];
  // Found for the first link only, then handed to the others (a folder of links asks once).
  let boundary: string | undefined;
  const boundaryOf = () => (boundary ??= repositoryRealPath(dir));
  for (const entry of entries) {
    if (inFolder !== undefined && entry.isDirectory()) {
      names.push(`${entry.name}/${inFolder}`);
      continue;
    }
    names.push(entry.name);
    if (entry.isFile() || (entry.isDirectory() && entry.name === indexFolder)) continue;
    nonRegular++;
    // Links and odd entries: whatever stat says decides. A directory named like a migration is unreadable too.
    try {
      const stats = statSync(join(dir, entry.name));
      if (stats.isDirectory()) unreadable.set(entry.name, 'EISDIR');
      else if (!stats.isFile()) unreadable.set(entry.name, 'ENOTREG');
      else if (entry.isSymbolicLink() && linkLeavesRepository(dir, entry.name, boundaryOf) !== null) unreadable.set(entry.name, 'EOUTSIDE');
    } catch (error) {
      unreadable.set(entry.name, errnoCode(error));
    }
  }
  return { names, unreadable, nonRegular, missing: false };
}

export function readDiskState(dir: string, format: MigrationFormat): DiskState {
  const { names, unreadable } = listMigrationFiles(dir, format);
  return { catalog: buildCatalog(names, format), unreadable };
}

/**
 * For a link: its real target when that lies outside the repository, else null (also for plain files).
 * `boundary`: the repository holding `dir` (its worktree's real path, or the folder itself outside git),
 * asked only for a link.
 */
export function linkLeavesRepository(dir: string, name: string, boundary: () => string = () => repositoryRealPath(dir)): string | null {
  const path = join(dir, name);
  if (!lstatSync(path).isSymbolicLink()) return null;
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    return null; // a dangling link: the open reports it
  }
  return isWithin(target, boundary()) ? null : target;
}
