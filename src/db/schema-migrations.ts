/**
 * golang-migrate's table: one row (version bigint, dirty boolean); no row = nothing applied. We write it
 * exactly as golang-migrate does (clear, then insert), so the project's own migrator keeps working.
 */
import { DbguardError } from '../core/errors.js';
import type { SchemaVersion } from '../core/plan.js';
import type { PgClient } from './client.js';

/** golang-migrate's NilVersion, written only together with dirty=true. */
const NIL_VERSION = -1n;

/**
 * What tracks migrations here, in one round trip: golang-migrate's table and its columns, and the other
 * tools' tables (§15). dbguard reads golang-migrate's only; another tool's table is a clear error, never
 * an internal one (dbmate's schema_migrations has no dirty column) nor a silent "nothing applied".
 */
const TRACKING_FACTS = `SELECT to_regclass('schema_migrations') IS NOT NULL AS here,
  ARRAY(SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute
        WHERE attrelid = to_regclass('schema_migrations') AND attnum > 0 AND NOT attisdropped ORDER BY attnum) AS columns,
  ARRAY(SELECT t FROM unnest(ARRAY['gorp_migrations', 'goose_db_version']) t WHERE to_regclass(t) IS NOT NULL) AS others`;

const OTHER_TOOL: Record<string, string> = { gorp_migrations: 'sql-migrate', goose_db_version: 'goose' };
const GOLANG_MIGRATE_COLUMNS = /^(version (bigint|integer)),(dirty boolean)$/;

function notGolangMigrate(found: string, tool: string | null): DbguardError {
  return new DbguardError('FORMAT_NOT_SUPPORTED', `${found}${tool ? ` (${tool}'s)` : ''}, not golang-migrate's schema_migrations (version bigint, dirty boolean); dbguard reads golang-migrate's migrations only for now, and changed nothing`, {
    hint: tool ? `dbguard does not support ${tool} yet; point database.url at a database golang-migrate manages` : 'point database.url at a database golang-migrate manages, or check what created schema_migrations',
    details: { found, tool },
  });
}

export async function readSchemaVersion(client: PgClient): Promise<SchemaVersion | null> {
  const facts = (await client.query<{ here: boolean; columns: string[]; others: string[] }>(TRACKING_FACTS)).rows[0];
  if (!facts?.here) {
    const other = facts?.others[0];
    if (other) throw notGolangMigrate(`this database tracks its migrations in ${other}`, OTHER_TOOL[other] ?? null);
    return null;
  }
  if (!GOLANG_MIGRATE_COLUMNS.test(facts.columns.join(','))) {
    const dbmate = facts.columns.length === 1 && /^version character varying/.test(facts.columns[0] ?? '');
    throw notGolangMigrate(`schema_migrations here has the columns ${facts.columns.join(', ') || '(none)'}`, dbmate ? 'dbmate' : null);
  }
  const result = await client.query<{ version: string; dirty: boolean }>('SELECT version::text AS version, dirty FROM schema_migrations LIMIT 1');
  const row = result.rows[0];
  if (!row) return null;
  const version = BigInt(row.version);
  // A dirty nil version means a failed first migration or a failed last rollback step: dirty, nothing applied.
  if (version === NIL_VERSION) return row.dirty ? { version: 0n, dirty: true } : null;
  return { version, dirty: row.dirty };
}

export async function ensureSchemaMigrationsTable(client: PgClient): Promise<void> {
  await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)');
}

/** Sets the version; null means "nothing applied" (no row, or NilVersion when dirty). */
export async function writeSchemaVersion(client: PgClient, version: bigint | null, dirty: boolean): Promise<void> {
  await client.query(schemaVersionStatements(version, dirty));
}

/** The statements that set the version; a bigint and a boolean need no escaping. */
export function schemaVersionStatements(version: bigint | null, dirty: boolean): string {
  const insert = version !== null || dirty ? ` INSERT INTO schema_migrations (version, dirty) VALUES (${(version ?? NIL_VERSION).toString()}, ${dirty});` : '';
  return `DELETE FROM schema_migrations;${insert}`;
}
