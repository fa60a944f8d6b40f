/**
 * What the database holds as applied (DESIGN §3, §15), from its tracking table, the tracking rows, the
 * cache and git: for golang-migrate everything at or below its top version, for the tools that keep
 * a set exactly that set, with the tool's own ids matched against the files. Pure.
 */
import type { Catalog } from './catalog.js';
import type { PlanInput, TrackedMigration } from './plan-input.js';
import type { MigrationFormat, SchemaVersion } from './format.js';

/** Applied versions and the up file each was applied from, when known. */
export type Known = Map<bigint, string | undefined>;

/**
 * The applied set (§3). A tool that keeps a set (dbmate, goose, sql-migrate) lists it; for
 * golang-migrate it is the tracking rows and cache entries at or below the database's version, the
 * untracked intermediates, and the version itself — never just the top one.
 */
export function appliedSet(input: Omit<PlanInput, 'downSql'>, current: bigint): Known {
  const listed = input.current?.applied;
  const counts = listed ? (version: bigint) => listed.has(version) : (version: bigint) => version <= current;
  const known: Known = new Map();
  for (const [version, entry] of input.cache?.migrations ?? []) {
    if (counts(version)) known.set(version, entry.filename);
  }
  // The tracking table was written by the database itself, so its names win over the cache's.
  for (const row of input.tracked) {
    if (counts(version(row))) known.set(row.version, row.filename);
  }
  for (const [version, filename] of input.untracked ?? []) {
    if (counts(version) && !known.has(version)) known.set(version, filename);
  }
  if (listed) {
    // The tool's own row names its file (sql-migrate's id): that wins over every record of ours.
    for (const [version, id] of listed) {
      const filename = id === null ? null : input.catalog.format.fileOfId(id);
      if (filename !== null || !known.has(version)) known.set(version, filename ?? undefined);
    }
  } else if (!known.has(current)) known.set(current, undefined);
  return known;
}

const version = (row: TrackedMigration): bigint => row.version;

/**
 * Whether the database holds a migration as applied: in the tool's set (sql-migrate's under this file
 * name: a rename is a new id to it), or — golang-migrate — at or below its version.
 */
export function holdsApplied(format: MigrationFormat, current: SchemaVersion | null, version: bigint, filename?: string): boolean {
  if (current === null) return false;
  if (!current.applied) return version <= current.version;
  const id = current.applied.get(version);
  return id !== undefined && (id === null || filename === undefined || format.idMatches(id, filename));
}

/**
 * Rows whose id is not their version's file on disk although the tool would call them the same
 * version (dbmate: '2' and 002_b.sql are two migrations to it, one version to dbguard). A rename to
 * sql-migrate is a phantom and a pending file, which the plan handles; these cannot be told apart.
 */
export function rowsNamingOtherFiles(current: SchemaVersion | null, catalog: Catalog): Array<{ version: bigint; id: string; file: string }> {
  const { format } = catalog;
  if (!current?.applied || format.renameIsNewMigration) return [];
  const found: Array<{ version: bigint; id: string; file: string }> = [];
  for (const [version, id] of current.applied) {
    const file = catalog.byVersion.get(version)?.up;
    if (id !== null && file !== undefined && !format.idMatches(id, file)) found.push({ version, id, file });
  }
  return found;
}

