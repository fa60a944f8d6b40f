/** `_dbguard.applied_migrations`: the down SQL of every applied migration, kept inside the database. */
import { TRACKING_SCHEMA, type DownSql, type TrackedMigration } from '../core/plan.js';
import { relationExists, type PgClient } from './client.js';

export { TRACKING_SCHEMA };
export const TRACKING_TABLE = `${TRACKING_SCHEMA}.applied_migrations`;

export interface TrackingRow {
  readonly version: bigint;
  readonly filename: string;
  readonly downSql: string | null;
  readonly upSha256: string | null;
  readonly source: string;
}

export async function ensureTrackingTable(client: PgClient): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${TRACKING_SCHEMA}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${TRACKING_TABLE} (
    version bigint PRIMARY KEY,
    filename text NOT NULL,
    down_sql text,
    up_sha256 text,
    captured_at timestamptz,
    source text
  )`);
}

const trackingExists = (client: PgClient) => relationExists(client, TRACKING_TABLE);

export async function readTracked(client: PgClient): Promise<TrackedMigration[]> {
  if (!(await trackingExists(client))) return [];
  const result = await client.query<{ version: string; filename: string; has_down: boolean; up_sha256: string | null }>(
    `SELECT version::text AS version, filename, down_sql IS NOT NULL AS has_down, up_sha256 FROM ${TRACKING_TABLE} ORDER BY version`,
  );
  return result.rows.map((row) => ({ version: BigInt(row.version), filename: row.filename, hasDownSql: row.has_down, upSha256: row.up_sha256 }));
}

/** Down SQL the table holds for the given versions (whose file names match, when known). */
export async function readTrackedDownSql(client: PgClient, wanted: ReadonlyArray<{ version: bigint; filename: string | undefined }>): Promise<Map<bigint, DownSql>> {
  const found = new Map<bigint, DownSql>();
  if (wanted.length === 0 || !(await trackingExists(client))) return found;
  const result = await client.query<{ version: string; filename: string; down_sql: string }>(
    `SELECT version::text AS version, filename, down_sql FROM ${TRACKING_TABLE} WHERE version = ANY($1::bigint[]) AND down_sql IS NOT NULL`,
    [wanted.map((w) => w.version.toString())],
  );
  const expected = new Map(wanted.map((w) => [w.version, w.filename]));
  for (const row of result.rows) {
    const version = BigInt(row.version);
    const filename = expected.get(version);
    if (filename !== undefined && filename !== row.filename) continue;
    found.set(version, { version, filename: row.filename, sql: row.down_sql, origin: 'tracking-table' });
  }
  return found;
}

const UPSERT_CONFLICT = `ON CONFLICT (version) DO UPDATE SET filename = EXCLUDED.filename,
       down_sql = CASE WHEN ${TRACKING_TABLE}.filename = EXCLUDED.filename
         THEN COALESCE(EXCLUDED.down_sql, ${TRACKING_TABLE}.down_sql) ELSE EXCLUDED.down_sql END,
       up_sha256 = CASE WHEN ${TRACKING_TABLE}.filename = EXCLUDED.filename
         THEN COALESCE(EXCLUDED.up_sha256, ${TRACKING_TABLE}.up_sha256) ELSE EXCLUDED.up_sha256 END,
       captured_at = now(), source = EXCLUDED.source`;

export async function upsertTracked(client: PgClient, rows: readonly TrackingRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO ${TRACKING_TABLE} (version, filename, down_sql, up_sha256, captured_at, source)
     SELECT v::bigint, f, d, s, now(), src FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(v, f, d, s, src)
     ${UPSERT_CONFLICT}`,
    [
      rows.map((r) => r.version.toString()), rows.map((r) => r.filename), rows.map((r) => r.downSql),
      rows.map((r) => r.upSha256), rows.map((r) => r.source),
    ],
  );
}

/**
 * The same upsert as one SQL statement with its values escaped as literals (pg's escapeLiteral), for
 * a simple-query batch that applies a migration and records it in one round trip.
 */
export function upsertTrackedStatement(client: PgClient, row: TrackingRow): string {
  const text = (value: string | null) => (value === null ? 'NULL' : client.escapeLiteral(value));
  return `INSERT INTO ${TRACKING_TABLE} (version, filename, down_sql, up_sha256, captured_at, source)
     VALUES (${row.version.toString()}, ${text(row.filename)}, ${text(row.downSql)}, ${text(row.upSha256)}, now(), ${text(row.source)})
     ${UPSERT_CONFLICT};`;
}

export async function deleteTracked(client: PgClient, versions: readonly bigint[]): Promise<void> {
  if (versions.length === 0) return;
  await client.query(`DELETE FROM ${TRACKING_TABLE} WHERE version = ANY($1::bigint[])`, [versions.map(String)]);
}

/** The same delete for one version as a statement, for a step's one-round-trip batch. */
export function deleteTrackedStatement(version: bigint): string {
  return `DELETE FROM ${TRACKING_TABLE} WHERE version = ${version.toString()};`;
}
