/**
 * golang-migrate's table: one row (version bigint, dirty boolean); no row = nothing applied. We write it
 * exactly as golang-migrate does (clear, then insert), so the project's own migrator keeps working.
 */
import type { SchemaVersion } from '../core/plan.js';
import { relationExists, type PgClient } from './client.js';

/** golang-migrate's NilVersion, written only together with dirty=true. */
const NIL_VERSION = -1n;

export async function readSchemaVersion(client: PgClient): Promise<SchemaVersion | null> {
  if (!(await relationExists(client, 'schema_migrations'))) return null;
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
