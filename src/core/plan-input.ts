/**
 * What a rollback plan is made from (DESIGN §3): the disk catalog, the applied state, the tracking rows,
 * the cache, and the down SQL found for the candidates. Types only, so the planner's parts can share them.
 */
import type { MigrationCache } from './cache.js';
import type { Catalog } from './catalog.js';
import type { SchemaVersion } from './format.js';
import type { NoDown } from './no-down.js';

/** Where a down SQL text was found, in the order they are asked (DESIGN §3). */
export type DownSqlOrigin = 'tracking-table' | 'previous-tree' | 'git-history' | 'working-tree';

export interface TrackedMigration {
  readonly version: bigint;
  readonly filename: string;
  readonly hasDownSql: boolean;
  /** sha256 of the up file as applied, when known. */
  readonly upSha256?: string | null;
  /** Why it has no down SQL to run, as captured (§18); null or absent: it has some, or nothing is known. */
  readonly noDown?: NoDown | null;
}

export interface DownSql {
  readonly version: bigint;
  /** The up file of the migration this down SQL reverses. */
  readonly filename: string;
  readonly sql: string;
  readonly origin: DownSqlOrigin;
  /** The commit it came from, for git origins. */
  readonly ref?: string;
  /** A newer down file (its up file unchanged) replaced the copy stored at apply time (§3: a fix wins). */
  readonly changedSinceApplied?: boolean;
  /** The up file from the same place, when the source has it (the data-only classifier reads it). */
  readonly upSql?: string;
  readonly upSha256?: string;
}

export interface PlanInput {
  readonly catalog: Catalog;
  readonly current: SchemaVersion | null;
  readonly tracked: readonly TrackedMigration[];
  readonly cache: MigrationCache | null;
  /**
   * Versions the project's own migrator applied without `dbguard capture` (§3's untracked
   * intermediates): up files of the tree that applied schema_migrations' version, between the highest
   * tracked version and it. Found in git by the engine; absent = none known.
   */
  readonly untracked?: ReadonlyMap<bigint, string>;
  /** Down SQL found for the candidates (see rollbackCandidates). */
  readonly downSql: ReadonlyMap<bigint, DownSql>;
  /** Up SQL of candidates whose down SQL is blank, for the data-only classifier. */
  readonly upSql?: ReadonlyMap<bigint, string>;
  /** Proceed past IRREVERSIBLE, leaving the schema those migrations made (listed as drift). */
  readonly keepIrreversible?: boolean;
  /** Branch databases are on (§17): a refusal does not advise turning them on. */
  readonly branchDatabasesOn?: boolean;
  /** On-disk applied migrations above an out-of-order phantom, for its rewind-and-replay fallback. */
  readonly onDisk?: ReadonlyMap<bigint, OnDiskMigration>;
}

/** An applied migration that is on disk, as a rewind-and-replay needs it. */
export interface OnDiskMigration {
  readonly filename: string;
  readonly upSql: string;
  readonly upSha256: string;
  /** The down SQL the tracking table holds for it (null: none, so no replay through it). */
  readonly downSql: string | null;
}
