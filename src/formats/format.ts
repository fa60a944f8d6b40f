/**
 * A migration tool's format (DESIGN §15): everything dbguard must know of one tool, and the only
 * place that knows it. Pure: names parsed, SQL strings returned (goose's Querier is the model: one
 * statement per question), lock keys computed; the adapters run them. The rest of dbguard works on
 * versions, up and down SQL and an applied set.
 */
import type { ParsedMigrationName } from '../core/catalog.js';
import type { SchemaVersion } from '../core/plan.js';

/** What the tool does with a pending migration below the newest applied one. */
export type OutOfOrderRule = 'skipped' | 'applied' | 'refused';

export interface MigrationFormat {
  readonly name: string;

  // Files
  /** One file name; null when it is not a well-formed migration name of this format. */
  parseFileName(fileName: string): ParsedMigrationName | null;
  /** Names that are probably meant to be migrations: reported, not ignored, when they do not parse. */
  looksLikeMigration(fileName: string): boolean;
  /** Why a name that looks like a migration does not parse. */
  invalidNameReason(fileName: string): string;
  /** The names this format expects, for hints ("rename it to …"). */
  readonly expectedNames: string;
  /** How an up file's name ends (the cache's fast check of its entries). */
  readonly upSuffix: string;
  isUpFile(fileName: string): boolean;
  /** The down file that belongs to an up file, and the reverse. */
  downFileFor(upFile: string): string;
  upFileFor(downFile: string): string;
  /** Git pathspec globs (relative to the migrations folder): every down file, and one version's up file. */
  readonly downFilesGlob: string;
  upFileGlob(version: bigint): string;
  /** A migration pair as files (the demo writes its scenario with it). */
  filesFor(stem: string, up: string, down: string): Record<string, string>;

  // The tracking table
  readonly trackingTable: string;
  /** One query: whether the table is there, its columns ("name type"), and other tools' tables found. */
  readonly trackingFactsSql: string;
  /** What is wrong with the table's columns for this format; null when they are its own. */
  shapeProblem(columns: readonly string[]): { found: string; tool: string | null } | null;
  readonly createTableSql: string;
  readonly readVersionSql: string;
  /** A row of readVersionSql as the applied version; null: nothing applied. */
  versionFromRow(row: { version: string; dirty: boolean } | undefined): SchemaVersion | null;
  /** The statements that record `version` as applied (null: nothing), exactly as the tool writes them. */
  setVersionSql(version: bigint | null, dirty: boolean): string;
  readonly hasDirtyFlag: boolean;
  readonly outOfOrder: OutOfOrderRule;

  // Its lock
  /** The advisory lock keys the tool takes, given the database and schema names. */
  lockKeys(database: string, schema: string): string[];
}
