/**
 * A migration tool's format (DESIGN §15): everything dbguard must know of one tool, and the only
 * place that knows it. Pure: names parsed, sections cut, SQL strings returned (goose's Querier is the
 * model: one statement per question), lock keys computed; the adapters run them. The rest of dbguard
 * works on versions, up and down SQL and an applied set.
 */
export type Direction = 'up' | 'down';

/** One file name as its format reads it. */
export interface ParsedMigrationName {
  readonly version: bigint;
  readonly name: string;
  readonly direction: Direction;
  /** False for a migration dbguard cannot run (a goose Go migration, §18); absent: runnable. */
  readonly runnable?: boolean;
}

/** The applied state a tracking table holds. */
export interface SchemaVersion {
  /** The newest applied version. */
  readonly version: bigint;
  readonly dirty: boolean;
  /**
   * The applied set, for a tool that keeps one (dbmate, goose, sql-migrate, node-pg-migrate): version → its row's id
   * (sql-migrate's file name, dbmate's version text, node-pg-migrate's name), or null. Absent: golang-migrate, whose table holds only the top.
   */
  readonly applied?: ReadonlyMap<bigint, string | null>;
  /**
   * The sha256 the tool itself recorded of each applied file (Prisma's checksum): what was applied,
   * whatever dbguard saw. Absent: the tool keeps none that dbguard reads.
   */
  readonly checksums?: ReadonlyMap<bigint, string>;
}


/** What the tool does with a pending migration below the newest applied one. */
export type OutOfOrderRule = 'skipped' | 'applied' | 'refused';

/** One migration as its tracking table records it: the version and the up file it came from. */
export interface RecordedMigration {
  readonly version: bigint;
  readonly filename: string;
  /** The up file's sha256, for a tool that records it (Drizzle's hash, Prisma's checksum). */
  readonly upSha256?: string;
}

/**
 * A tool whose versions its file names alone do not give (Drizzle Kit: its journal): the file that
 * gives them, relative to the migrations folder, read into file name → version, and the format bound
 * to what it read. The adapters read the file; the format stays pure.
 */
export interface FolderIndex {
  readonly file: string;
  /** Throws MIGRATION_FILE_INVALID naming the file when the tool could not read it either. */
  read(text: string): ReadonlyMap<string, bigint>;
  /** `versions` is asked only when a file name is parsed: the hook's clean path never reads the index. */
  bind(versions: () => ReadonlyMap<string, bigint>): MigrationFormat;
  /** The files a bound format's index lists (each must be in the folder: the tool fails on a missing one). */
  listed?(): readonly string[];
}

/** The tools dbguard reads; src/formats holds one module each. */
export const FORMAT_NAMES = ['golang-migrate', 'dbmate', 'goose', 'sql-migrate', 'node-pg-migrate', 'drizzle', 'prisma'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];
export const isFormatName = (name: string): name is FormatName => (FORMAT_NAMES as readonly string[]).includes(name);

export interface MigrationFormat {
  readonly name: FormatName;

  // Files
  /** One file name; null when it is not a well-formed migration name of this format. */
  parseFileName(fileName: string): ParsedMigrationName | null;
  /** Names that are probably meant to be migrations: reported, not ignored, when they do not parse. */
  looksLikeMigration(fileName: string): boolean;
  /** Why a name that looks like a migration does not parse. */
  invalidNameReason(fileName: string): string;
  /** The names this format expects, for hints ("rename it to …"). */
  readonly expectedNames: string;
  /** True when one file holds both directions (the catalog's up and down name the same file). */
  readonly singleFile: boolean;
  /** How an up file's name ends (the cache's fast check of its entries). */
  readonly upSuffix: string;
  isUpFile(fileName: string): boolean;
  /** The down file that belongs to an up file, and the reverse (the same file for a single-file format). */
  downFileFor(upFile: string): string;
  upFileFor(downFile: string): string;
  /** Git pathspec globs (relative to the migrations folder): every down file, and one version's up file. */
  readonly downFilesGlob: string;
  upFileGlob(version: bigint): string;
  /** A renamed file is another migration to the tool (sql-migrate's id is the file name), never adopted. */
  readonly renameIsNewMigration: boolean;
  /**
   * What of the tool's migrations dbguard lists and tracks but cannot run (goose's Go migrations, §18),
   * in words: what one is, and the command that runs it, and undoes it. Absent: it runs them all.
   */
  readonly notRunnable?: { readonly what: string; readonly runWith: string; readonly undoWith: string };
  /**
   * A tool that writes no down SQL (Drizzle Kit, Prisma Migrate), in words ("Drizzle Kit writes no
   * down SQL"): its migrations have no down in the catalog, and a rollback through one refuses,
   * naming branch databases as the way that needs none (§17, §18). Absent: it has downs.
   */
  readonly noDownSql?: string;
  /**
   * The tool's own words for an applied file edited since, when it checks (Prisma's checksum): status
   * says them, with its fix. Absent: dbguard's words.
   */
  readonly editedWords?: (filename: string) => { readonly words: string; readonly fix: string };
  /** Versions from a file beside the migrations (Drizzle's journal); absent: from the names alone. */
  readonly index?: FolderIndex;
  /**
   * Each migration is a folder holding this file (Prisma: `<timestamp>_<name>/migration.sql`): the
   * listing names it `<folder>/<file>`, and so do the catalog, the cache and the tracking rows.
   */
  readonly migrationFile?: string;
  /** A migration as files (the demo and the tests write theirs with it). */
  filesFor(stem: string, up: string, down: string): Record<string, string>;
  /**
   * The SQL of one direction from a file's text, as the tool would run it (its no-transaction marker
   * kept as a comment line, which requiresNoTransaction reads). Throws MIGRATION_FILE_INVALID naming
   * the line when the file's markers are wrong. A two-file format's file is all one direction.
   */
  sectionOf(text: string, direction: Direction, file: string, env?: Readonly<Record<string, string | undefined>>): string;
  /**
   * A no-transaction section runs as the tool runs it: one Exec of the whole text (dbmate: PostgreSQL
   * then runs it as one implicit transaction, so two CONCURRENTLY statements fail as under dbmate), or
   * statement by statement (the others; golang-migrate's files through dbguard's splitter, as before).
   */
  readonly noTransactionRunsWhole: boolean;
  /** The tool's own no-transaction marker, as kept at the start of a section. */
  declaresNoTransaction(sql: string): boolean;
  /**
   * A blank down in the tool's words, to follow "has": "an empty down file"; goose's and sql-migrate's
   * Down section is optional, so an empty string there is "no Down section" (DESIGN §18).
   */
  blankDown(down: string): string;

  // The tracking table
  readonly trackingTable: string;
  /** One query: whether the table is there, its columns ("name type"), and other tools' tables found. */
  readonly trackingFactsSql: string;
  /** What is wrong with the table's columns for this format; null when they are its own. */
  shapeProblem(columns: readonly string[]): { found: string; tool: string | null } | null;
  readonly createTableSql: string;
  readonly readAppliedSql: string;
  /**
   * The rows of readAppliedSql as the applied state; null: nothing applied. A format that keeps a set
   * (dbmate, goose, sql-migrate) lists it in `applied`; golang-migrate keeps only the top version.
   */
  appliedFromRows(rows: ReadonlyArray<Record<string, unknown>>): SchemaVersion | null;
  /** The file a row's id names (sql-migrate's id is the file name), or null when the id is only a version. */
  fileOfId(id: string): string | null;
  /** Whether a row's id is this file's (dbmate: the version text exactly as the file writes it). */
  idMatches(id: string, filename: string): boolean;
  /** The statements that record one apply, exactly as the tool writes them; `top`: what a top-only table holds after it. */
  recordApplySql(migration: RecordedMigration, top: bigint): string;
  /** The statements that record one un-apply; `after`: the top version left (null: nothing applied). */
  recordUnapplySql(migration: RecordedMigration, after: bigint | null): string;
  /** Only a tool that keeps a dirty flag has it: the statements that mark `version` dirty, or set it clean (force). */
  setVersionSql?(version: bigint | null, dirty: boolean): string;
  readonly outOfOrder: OutOfOrderRule;

  // Its lock
  /** The advisory lock keys the tool takes, given the database and schema names. */
  lockKeys(database: string, schema: string): string[];
}

/** Whether the tool keeps a dirty flag (golang-migrate): it has the statements that set one. */
export const keepsDirtyFlag = (format: MigrationFormat): format is MigrationFormat & Required<Pick<MigrationFormat, 'setVersionSql'>> => format.setVersionSql !== undefined;

/** What the tool does with a pending migration below the newest applied one, in words ("it" or "them"). */
export function belowTopRule(format: MigrationFormat, count: number, verbForm: 'would' | 'does' = 'would'): string {
  const them = count === 1 ? 'it' : 'them';
  const does = { skipped: verbForm === 'would' ? `would skip ${them}` : `skips ${them}`, applied: `applies ${them} too`, refused: `refuses ${them}` }[format.outOfOrder];
  return `${format.name} ${does}`;
}

/**
 * A migration's name (as the catalog and cache hold it) from a path that ends in it (git's paths from
 * the repository's top): the file name, or for a folder-per-migration tool (Prisma) its folder and file.
 */
export function migrationNameOfPath(format: MigrationFormat, path: string): string {
  const cut = path.lastIndexOf('/');
  if (format.migrationFile === undefined || cut < 0) return path.slice(cut + 1);
  const folder = path.lastIndexOf('/', cut - 1);
  return path.slice(folder + 1);
}
