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
  /** For `renamed`: its content (sha256) differs from what was applied — another migration, not a rename (§2). */
  readonly otherContent?: boolean;
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
  /** Renamed with the same content (sha256): adopted under the new name, not a phantom (§2). */
  readonly adopted: readonly Conflict[];
  /** Same version and name, but the up file's content differs from what was applied (§2). */
  readonly edited: ReadonlyArray<{ readonly version: bigint; readonly filename: string }>;
  /** Migrations on disk that the cache does not know: forward work, not a conflict. */
  readonly pending: readonly Migration[];
}

/**
 * `diskSha` holds the sha256 of the up files on disk that the caller hashed (the renamed ones, and the
 * applied ones when it looks for edits); files it did not hash are judged by name alone.
 */
export function findPhantomMigrations(cache: MigrationCache | null, disk: DiskState, diskSha: ReadonlyMap<string, string> = new Map()): ComparisonResult {
  if (cache === null) return { firstRun: true, conflicts: [], adopted: [], edited: [], pending: [] };

  const conflicts: Conflict[] = [];
  const adopted: Conflict[] = [];
  const edited: Array<{ version: bigint; filename: string }> = [];
  for (const [version, entry] of cache.migrations) {
    const onDisk = disk.catalog.byVersion.get(version)?.up;
    const sha = onDisk === undefined ? undefined : diskSha.get(onDisk);
    if (onDisk === undefined) {
      conflicts.push({ version, filename: entry.filename, kind: 'missing' });
    } else if (onDisk !== entry.filename) {
      const otherContent = sha !== undefined && entry.upSha256 !== undefined && sha !== entry.upSha256;
      const renamed: Conflict = { version, filename: entry.filename, kind: 'renamed', diskFilename: onDisk, ...(otherContent ? { otherContent } : {}) };
      (sha !== undefined && sha === entry.upSha256 && !disk.catalog.format.renameIsNewMigration ? adopted : conflicts).push(renamed);
    } else {
      const error = disk.unreadable.get(onDisk);
      if (error !== undefined) conflicts.push({ version, filename: entry.filename, kind: 'unreadable', error });
      else if (sha !== undefined && entry.upSha256 !== undefined && sha !== entry.upSha256) edited.push({ version, filename: onDisk });
    }
  }
  conflicts.sort((a, b) => compareVersions(b.version, a.version));

  const pending = disk.catalog.migrations.filter((m) => m.up !== undefined && !cache.migrations.has(m.version));
  return { firstRun: false, conflicts, adopted, edited, pending };
}

/** The up files whose content the comparison needs: renamed ones always, applied ones to find edits. */
export function filesToHash(cache: MigrationCache, disk: DiskState, forEdits: boolean): string[] {
  const files: string[] = [];
  for (const [version, entry] of cache.migrations) {
    const onDisk = disk.catalog.byVersion.get(version)?.up;
    if (onDisk === undefined || disk.unreadable.has(onDisk) || entry.upSha256 === undefined) continue;
    if (onDisk !== entry.filename || forEdits) files.push(onDisk);
  }
  return files;
}

export function hasConflict(result: ComparisonResult): boolean {
  return result.conflicts.length > 0;
}
