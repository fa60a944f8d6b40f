/** `_dbguard.applied_migrations`: the down SQL of every applied migration, kept inside the database. */
import { NO_DOWN_KINDS, type NoDown } from '../core/no-down.js';
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
  /** Why it has no down SQL to run (null: it has some, or nothing is known). */
  readonly noDown?: NoDown | null;
}

/** The schema, the table and its newest column, in one round trip (a simple-query batch). */
export async function ensureTrackingTable(client: PgClient): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${TRACKING_SCHEMA};
CREATE TABLE IF NOT EXISTS ${TRACKING_TABLE} (
    version bigint PRIMARY KEY,
    filename text NOT NULL,
    down_sql text,
    up_sha256 text,
    captured_at timestamptz,
    source text,
    no_down jsonb
  );
-- Tables made before no_down (§18) gain it; only then, so the usual run takes no lock for it.
DO $dbguard$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = '${TRACKING_TABLE}'::regclass AND attname = 'no_down' AND NOT attisdropped) THEN
    ALTER TABLE ${TRACKING_TABLE} ADD COLUMN no_down jsonb;
  END IF;
END $dbguard$`);
}

const trackingExists = (client: PgClient) => relationExists(client, TRACKING_TABLE);

/** A stored no_down as dbguard wrote it; anything else (edited by hand) is unknown. */
function noDownFrom(value: unknown): NoDown | null {
  const { kind, why } = (value ?? {}) as { kind?: unknown; why?: unknown };
  return typeof why === 'string' && NO_DOWN_KINDS.includes(kind as NoDown['kind']) ? { kind: kind as NoDown['kind'], why } : null;
}

/** One question: is the table there, and has it no_down yet (a read-only command does not add it). */
export const TRACKING_PROBE_SQL = `SELECT to_regclass('${TRACKING_TABLE}') IS NOT NULL AS here,
    EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('${TRACKING_TABLE}') AND attname = 'no_down' AND NOT attisdropped) AS no_down`;
export type TrackingProbeRow = { here: boolean; no_down: boolean };

/**
 * The rows, once the probe said the table is there; with `downsBut`, the down SQL of every row whose
 * version is not in it (a rollback's candidates are among them; the versions on disk are left out, so a
 * long history's SQL does not travel).
 */
export const trackedRowsSql = (probe: TrackingProbeRow, downsBut?: readonly bigint[]) =>
  `SELECT version::text AS version, filename, down_sql IS NOT NULL AS has_down, up_sha256, ${probe.no_down ? 'no_down' : 'NULL::jsonb AS no_down'},
    ${downsBut === undefined ? 'NULL::text' : `CASE WHEN version <> ALL('{${downsBut.map(String).join(',')}}'::bigint[]) THEN down_sql END`} AS down_sql
  FROM ${TRACKING_TABLE} ORDER BY version`;

type TrackedRow = { version: string; filename: string; has_down: boolean; up_sha256: string | null; no_down: unknown; down_sql?: string | null };
export const trackedFromRows = (rows: readonly TrackedRow[]): TrackedMigration[] =>
  rows.map((row) => ({ version: BigInt(row.version), filename: row.filename, hasDownSql: row.has_down, upSha256: row.up_sha256, noDown: noDownFrom(row.no_down) }));

/** The down SQL `trackedRowsSql` brought along, as the tracking table's source gives it. */
export const storedDownSqlFromRows = (rows: readonly TrackedRow[]): Map<bigint, DownSql> => new Map(rows
  .filter((row) => typeof row.down_sql === 'string')
  .map((row) => [BigInt(row.version), { version: BigInt(row.version), filename: row.filename, sql: row.down_sql as string, origin: 'tracking-table' as const }]));

export async function readTracked(client: PgClient): Promise<TrackedMigration[]> {
  const probe = (await client.query<TrackingProbeRow>(TRACKING_PROBE_SQL)).rows[0];
  if (!probe?.here) return [];
  return trackedFromRows((await client.query<TrackedRow>(trackedRowsSql(probe))).rows);
}

/** Down SQL the table holds for the given versions (whose file names match, when known). */
export async function readTrackedDownSql(
  client: PgClient, wanted: ReadonlyArray<{ version: bigint; filename: string | undefined }>, tableHere?: boolean,
): Promise<Map<bigint, DownSql>> {
  const found = new Map<bigint, DownSql>();
  if (wanted.length === 0 || !(tableHere ?? (await trackingExists(client)))) return found;
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
       no_down = CASE WHEN ${TRACKING_TABLE}.filename = EXCLUDED.filename AND EXCLUDED.down_sql IS NULL AND ${TRACKING_TABLE}.down_sql IS NOT NULL
         THEN ${TRACKING_TABLE}.no_down ELSE EXCLUDED.no_down END,
       captured_at = now(), source = EXCLUDED.source`;

const noDownJson = (row: TrackingRow): string | null => (row.noDown ? JSON.stringify({ kind: row.noDown.kind, why: row.noDown.why }) : null);

export async function upsertTracked(client: PgClient, rows: readonly TrackingRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO ${TRACKING_TABLE} (version, filename, down_sql, up_sha256, captured_at, source, no_down)
     SELECT v::bigint, f, d, s, now(), src, nd::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(v, f, d, s, src, nd)
     ${UPSERT_CONFLICT}`,
    [
      rows.map((r) => r.version.toString()), rows.map((r) => r.filename), rows.map((r) => r.downSql),
      rows.map((r) => r.upSha256), rows.map((r) => r.source), rows.map(noDownJson),
    ],
  );
}

/**
 * The same upsert as one SQL statement with its values escaped as literals (pg's escapeLiteral), for
 * a simple-query batch that applies a migration and records it in one round trip.
 */
export function upsertTrackedStatement(client: PgClient, row: TrackingRow): string {
  const text = (value: string | null) => (value === null ? 'NULL' : client.escapeLiteral(value));
  return `INSERT INTO ${TRACKING_TABLE} (version, filename, down_sql, up_sha256, captured_at, source, no_down)
     VALUES (${row.version.toString()}, ${text(row.filename)}, ${text(row.downSql)}, ${text(row.upSha256)}, now(), ${text(row.source)}, ${text(noDownJson(row))}::jsonb)
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
