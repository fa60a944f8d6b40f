/**
 * Conflict detection (DESIGN §2): cache versus disk, with no database. This is the hook's whole clean
 * path, so it is a single pass over the cache and a map look-up per entry.
 */
import type { MigrationCache } from './cache.js';
import { compareVersions, type Catalog, type Migration } from './catalog.js';

export type ConflictKind = 'missing' | 'renamed' | 'unreadable';

export interface Conflict {
  readonly version: bigint;
  /** The up file that was applied. */
  readonly filename: string;
  readonly kind: ConflictKind;
  /** For `renamed`: the up file now on disk under the same version. */
  readonly diskFilename?: string;
  /** For `unreadable`: the stat error code (EACCES, ELOOP, …). */
  readonly error?: string;
}

export interface DiskState {
  readonly catalog: Catalog;
  /** File names present in the listing whose stat failed, with the error code. */
  readonly unreadable: ReadonlyMap<string, string>;
}

export interface ComparisonResult {
  /** No cache yet: nothing can be said without the database; not a conflict. */
  readonly firstRun: boolean;
  /** Applied migrations no longer (readably) on disk, highest version first. */
  readonly conflicts: readonly Conflict[];
  /** Migrations on disk that the cache does not know: forward work, not a conflict. */
  readonly pending: readonly Migration[];
}

export function findPhantomMigrations(cache: MigrationCache | null, disk: DiskState): ComparisonResult {
  if (cache === null) return { firstRun: true, conflicts: [], pending: [] };

  const conflicts: Conflict[] = [];
  for (const [version, entry] of cache.migrations) {
    const onDisk = disk.catalog.byVersion.get(version)?.up;
    if (onDisk === undefined) {
      conflicts.push({ version, filename: entry.filename, kind: 'missing' });
    } else if (onDisk !== entry.filename) {
      conflicts.push({ version, filename: entry.filename, kind: 'renamed', diskFilename: onDisk });
    } else {
      const error = disk.unreadable.get(onDisk);
      if (error !== undefined) conflicts.push({ version, filename: entry.filename, kind: 'unreadable', error });
    }
  }
  conflicts.sort((a, b) => compareVersions(b.version, a.version));

  const pending = disk.catalog.migrations.filter((m) => m.up !== undefined && !cache.migrations.has(m.version));
  return { firstRun: false, conflicts, pending };
}

export function hasConflict(result: ComparisonResult): boolean {
  return result.conflicts.length > 0;
}
