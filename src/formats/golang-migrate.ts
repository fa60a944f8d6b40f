/**
 * golang-migrate (DESIGN §15): `<version>_<name>.up.sql` + `.down.sql`, each file one Exec; table
 * `schema_migrations(version bigint, dirty boolean)` holding one row, the top version (no row:
 * nothing applied; NilVersion -1 only with dirty); a pending version below the top is skipped
 * silently; its lock is crc32(schema ␀ table ␀ database) × 1486364155. Facts from its source
 * (database/postgres/postgres.go, database/util.go).
 */
import { crc32 } from 'node:zlib';
import type { ParsedMigrationName } from '../core/catalog.js';
import type { SchemaVersion } from '../core/plan.js';
import type { MigrationFormat } from '../core/format.js';
import { notOwnShape, schemaMigrationsOwner, trackingFactsSql } from './shared.js';

const MIGRATION_FILE = /^([0-9]+)_(.+)\.(up|down)\.sql$/;
const LOOKS_LIKE_MIGRATION = [/\.(up|down)\.sql$/i, /^[0-9]+_.*\.sql$/i];
/** schema_migrations.version is a bigint: versions must fit a signed 64-bit integer. */
export { MAX_VERSION } from '../core/limits.js';
import { MAX_VERSION } from '../core/limits.js';
/** NilVersion, written only together with dirty=true. */
const NIL_VERSION = -1n;
const TABLE = 'schema_migrations';
/** golang-migrate v4's salt (database.GenerateAdvisoryLockId). */
const MIGRATE_SALT = 1486364155;

/** golang-migrate's key: crc32(schema \0 table \0 database) × salt, as an unsigned 32-bit number. */
export function golangMigrateLockKey(database: string, schema = 'public', table = TABLE): string {
  const sum = crc32(Buffer.from([schema, table, database].join('\0'), 'utf8'));
  return (Math.imul(sum, MIGRATE_SALT) >>> 0).toString();
}

function parseFileName(fileName: string): ParsedMigrationName | null {
  // U+FFFD is what a name that is not UTF-8 decodes to: such a file could not be opened by that name.
  const match = fileName.includes('\uFFFD') ? null : MIGRATION_FILE.exec(fileName);
  if (!match) return null;
  const [, digits, name, direction] = match as unknown as [string, string, string, 'up' | 'down'];
  const version = BigInt(digits);
  if (version <= 0n || version > MAX_VERSION) return null;
  return { version, name, direction };
}

function invalidNameReason(fileName: string): string {
  if (fileName.includes('\uFFFD')) return 'name is not valid UTF-8';
  if (/[\n\r]/.test(fileName)) return 'name holds a line break';
  const match = /^([0-9]+)_/.exec(fileName);
  if (match) {
    const version = BigInt(match[1] as string);
    if (version === 0n) return 'version must be a positive integer';
    if (version > MAX_VERSION) return 'version does not fit a 64-bit integer';
  } else {
    return 'name must start with a numeric version followed by "_"';
  }
  // One file per version is dbmate's, goose's and sql-migrate's layout (§15), which dbguard does not read yet.
  if (/\.sql$/i.test(fileName) && !/\.(up|down)\.sql$/i.test(fileName)) return 'is one file per version, as dbmate, goose and sql-migrate write them, but the format is golang-migrate (two files per version): set "format" in dbguard.config.json to the tool that wrote it';
  return 'name must match <version>_<name>.up.sql or <version>_<name>.down.sql';
}

/** Cleared, then one row: what golang-migrate's SetVersion does. A bigint and a boolean need no escaping. */
function setVersionSql(version: bigint | null, dirty: boolean): string {
  const insert = version !== null || dirty ? ` INSERT INTO ${TABLE} (version, dirty) VALUES (${(version ?? NIL_VERSION).toString()}, ${dirty});` : '';
  return `DELETE FROM ${TABLE};${insert}`;
}

export const golangMigrate: MigrationFormat = {
  name: 'golang-migrate',
  parseFileName,
  looksLikeMigration: (fileName) => LOOKS_LIKE_MIGRATION.some((pattern) => pattern.test(fileName)),
  invalidNameReason,
  expectedNames: '<version>_<name>.up.sql / .down.sql',
  singleFile: false,
  upSuffix: '.up.sql',
  isUpFile: (fileName) => fileName.endsWith('.up.sql'),
  downFileFor: (upFile) => upFile.replace(/\.up\.sql$/, '.down.sql'),
  upFileFor: (downFile) => downFile.replace(/\.down\.sql$/, '.up.sql'),
  downFilesGlob: '*.down.sql',
  // Leading zeros are allowed (000445_x), so the glob is loose and each name is parsed.
  upFileGlob: (version) => `*${version}_*.up.sql`,
  renameIsNewMigration: false,
  filesFor: (stem, up, down) => ({ [`${stem}.up.sql`]: up, [`${stem}.down.sql`]: down }),
  sectionOf: (text) => text,
  // golang-migrate has no marker: a file is one Exec (dbguard's own -- dbguard:no-transaction still counts).
  noTransactionRunsWhole: false,
  declaresNoTransaction: () => false,
  blankDown: () => 'an empty down file',

  trackingTable: TABLE,
  trackingFactsSql: trackingFactsSql(TABLE),
  shapeProblem(columns) {
    // dbmate's table has the same name: its columns tell them apart.
    const owner = schemaMigrationsOwner(columns);
    return owner === 'golang-migrate' ? null : notOwnShape(TABLE, columns, owner);
  },
  createTableSql: `CREATE TABLE IF NOT EXISTS ${TABLE} (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`,
  readAppliedSql: `SELECT version::text AS version, dirty FROM ${TABLE} LIMIT 1`,
  appliedFromRows(rows): SchemaVersion | null {
    const row = rows[0] as { version: string; dirty: boolean } | undefined;
    if (!row) return null;
    const version = BigInt(row.version);
    // A dirty nil version means a failed first migration or a failed last rollback step: dirty, nothing applied.
    if (version === NIL_VERSION) return row.dirty ? { version: 0n, dirty: true } : null;
    return { version, dirty: row.dirty };
  },
  fileOfId: () => null,
  idMatches: () => true,
  recordApplySql: (_migration, top) => setVersionSql(top, false),
  recordUnapplySql: (_migration, after) => setVersionSql(after, false),
  setVersionSql,
  outOfOrder: 'skipped',

  /**
   * golang-migrate derives its key from the database name twice over, differently: its library (with a
   * connection, WithInstance) asks current_database(); its CLI (`migrate -database postgres://…/app`)
   * takes the URL's path, leading "/" included. Both are held, so neither way of running it interleaves.
   */
  lockKeys: (database, schema) => [...new Set([golangMigrateLockKey(database, schema), golangMigrateLockKey(`/${database}`, schema)])],
};

