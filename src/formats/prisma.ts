/**
 * Prisma Migrate (DESIGN §15), from prisma-engines (schema-engine: sql-schema-connector
 * flavour/postgres.rs, sql_migration_persistence.rs, core/commands/apply_migrations.rs and
 * diagnose_migration_history.rs, schema-connector checksum.rs and migrations_directory.rs) and the
 * prisma CLI's listMigrations.ts: every folder `prisma/migrations/<timestamp>_<name>/` is one
 * migration, its SQL in `migration.sql`, sent whole as one simple query (one implicit transaction);
 * no down SQL. Table `_prisma_migrations` in the connection's schema: a row per attempt, the
 * migration_name the folder's name, checksum = sha256 of the file's text; applied = finished and
 * not rolled back. `migrate deploy` applies every folder without such a row, in name order, below
 * the newest too; `migrate dev` and `status` compare checksums and call an edited one "modified after
 * it was applied". Lock: pg_advisory_lock(72707369).
 *
 * dbguard's version of a migration is its folder's leading number (the timestamp); its name (the
 * folder's) is its id, so a renamed folder is a new migration to Prisma and to dbguard.
 */
import { DbguardError } from '../core/errors.js';
import type { MigrationFormat, ParsedMigrationName, SchemaVersion } from '../core/format.js';
import { MAX_VERSION } from '../core/limits.js';
import { notOwnShape, setState, sqlLiteral, trackingFactsSql, unusableName, unusableNameReason } from './shared.js';

const TABLE = '_prisma_migrations';
const SCRIPT = 'migration.sql';
const FOLDER = /^([0-9]+)_([^/]+)\/migration\.sql$/;
/** prisma-engines postgres.rs: "72707369 is a unique number we chose to identify Migrate". */
const LOCK_KEY = '72707369';

function parseFileName(fileName: string): ParsedMigrationName | null {
  const match = unusableName(fileName) ? null : FOLDER.exec(fileName);
  if (!match) return null;
  const version = BigInt(match[1] as string);
  if (version <= 0n || version > MAX_VERSION) return null;
  return { version, name: match[2] as string, direction: 'up' };
}

function invalidNameReason(fileName: string): string {
  const unusable = unusableNameReason(fileName);
  if (unusable) return unusable;
  const digits = /^([0-9]+)/.exec(fileName)?.[1];
  if (digits === undefined) return 'has no leading timestamp: dbguard orders Prisma\'s migrations by the number their folder starts with (prisma migrate dev names them <timestamp>_<name>)';
  if (BigInt(digits) === 0n) return 'version must be above 0 (a baseline folder named 0_init: rename it to a timestamp below the first migration\'s, and its _prisma_migrations row with it)';
  return BigInt(digits) > MAX_VERSION ? 'version does not fit a 64-bit integer' : 'folder name must be <timestamp>_<name>';
}

const folderOf = (fileName: string): string => fileName.slice(0, fileName.length - SCRIPT.length - 1);

/** Rows that count (finished, not rolled back), named by their folders: version → migration_name, and the checksums Prisma recorded. */
function appliedFromRows(rows: ReadonlyArray<Record<string, unknown>>): SchemaVersion | null {
  const applied = new Map<bigint, string | null>();
  const checksums = new Map<bigint, string>();
  for (const row of rows) {
    const name = String(row.migration_name);
    // P3009: Prisma deploys nothing until a failed migration is resolved; what it left half done is unknown,
    // so dbguard neither runs it again nor rolls back past it.
    if (row.finished === false) {
      throw new DbguardError('TOOL_MIGRATION_FAILED', `${TABLE} says ${name} failed (or is running now): started, not finished, not rolled back; dbguard changed nothing`, {
        hint: `undo what it left half done, then: npx prisma migrate resolve --rolled-back ${name}   (or --applied ${name} if you finished it by hand); then dbguard status`,
        details: { table: TABLE, migrationName: name },
      });
    }
    const parsed = parseFileName(`${name}/${SCRIPT}`);
    if (!parsed) {
      throw new DbguardError('TRACKING_ROW_INVALID', `${TABLE} lists ${JSON.stringify(name)} as applied, which has no leading timestamp dbguard can order; dbguard changed nothing`, {
        hint: `give the migration folder a <timestamp>_<name> name (and its row the same migration_name), then dbguard status`, details: { table: TABLE, migrationName: name },
      });
    }
    const other = applied.get(parsed.version);
    if (other && other !== name) {
      throw new DbguardError('TRACKING_ROW_INVALID', `${TABLE} lists two applied migrations of version ${parsed.version}: ${other} and ${name}; dbguard orders migrations by number and changed nothing`, {
        hint: 'give one of the folders a new timestamp (and its row the same migration_name), then dbguard status', details: { table: TABLE, names: [other, name] },
      });
    }
    applied.set(parsed.version, name);
    checksums.set(parsed.version, String(row.checksum));
  }
  const state = setState(applied);
  return state === null ? null : { ...state, checksums };
}

export const prisma: MigrationFormat = {
  name: 'prisma',
  parseFileName,
  looksLikeMigration: (fileName) => fileName.endsWith(`/${SCRIPT}`),
  invalidNameReason,
  expectedNames: `<timestamp>_<name>/${SCRIPT}`,
  singleFile: true,
  upSuffix: `/${SCRIPT}`,
  isUpFile: (fileName) => parseFileName(fileName) !== null,
  downFileFor: (upFile) => upFile,
  upFileFor: (downFile) => downFile,
  // There are no down files: the globs match nothing a history search would read as one.
  downFilesGlob: 'migration_lock.toml',
  upFileGlob: (version) => `${version}_*/${SCRIPT}`,
  renameIsNewMigration: true,
  noDownSql: 'Prisma Migrate writes no down SQL',
  // Its checksum differs: what `prisma migrate dev` and `status` say (diagnose_migration_history.rs's edited_migration_names).
  editedWords: (filename) => ({
    words: `The migration \`${folderOf(filename)}\` was modified after it was applied.`,
    fix: 'put the file back as it was applied (git checkout it) and make the change a new migration; prisma migrate dev would otherwise ask to reset the database',
  }),
  migrationFile: SCRIPT,
  filesFor: (stem, up) => ({ [`${stem}/${SCRIPT}`]: `${up}\n` }),
  sectionOf: (text, direction) => (direction === 'up' ? text : ''),
  // The engine sends the whole file as one simple query (native mod.rs: client.simple_query(script)).
  noTransactionRunsWhole: true,
  declaresNoTransaction: () => false,
  blankDown: () => 'no down SQL (Prisma Migrate writes none)',

  trackingTable: TABLE,
  trackingFactsSql: trackingFactsSql(TABLE),
  shapeProblem(columns) {
    const joined = `,${columns.join(',')},`;
    const own = ['checksum character varying(64)', 'finished_at timestamp with time zone', 'migration_name character varying(255)', 'rolled_back_at timestamp with time zone'];
    return own.every((column) => joined.includes(`,${column},`)) ? null : notOwnShape(TABLE, columns, null);
  },
  // flavour/postgres.rs create_migrations_table, made safe to run again.
  createTableSql: `CREATE TABLE IF NOT EXISTS ${TABLE} (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`,
  // Rows not rolled back, finished or not: an unfinished one is a failed (or running) migration, which blocks all.
  readAppliedSql: `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished FROM ${TABLE} WHERE rolled_back_at IS NULL ORDER BY started_at`,
  appliedFromRows,
  fileOfId: (id) => `${id}/${SCRIPT}`,
  idMatches: (id, filename) => filename === `${id}/${SCRIPT}`,
  // The row apply_migrations.rs leaves: started (a v4 uuid, the checksum, the name), one step counted,
  // finished; logs and rolled_back_at NULL. Prisma writes it in three statements around the script.
  recordApplySql: (m) => `INSERT INTO ${TABLE} (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES (gen_random_uuid()::text, ${sqlLiteral(m.upSha256 ?? '')}, now(), ${sqlLiteral(folderOf(m.filename))}, NULL, NULL, now(), 1);`,
  // No row at all is what migrate deploy, dev and status all read as never applied (a rolled_back_at only satisfies deploy).
  recordUnapplySql: (m) => `DELETE FROM ${TABLE} WHERE migration_name = ${sqlLiteral(folderOf(m.filename))};`,
  outOfOrder: 'applied',
  lockKeys: () => [LOCK_KEY],
};
