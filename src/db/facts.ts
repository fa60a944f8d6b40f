/**
 * What the database says, read once per run in two round trips: whether the tool's table and dbguard's
 * tracking table are there (one probe), then both tables' rows (one batch). Every plan starts from it.
 */
import type { MigrationFormat } from '../core/format.js';
import type { DownSql, SchemaVersion, TrackedMigration } from '../core/plan.js';
import type { PgClient } from './client.js';
import { versionTableReadable, type TrackingFactsRow } from './schema-migrations.js';
import { TRACKING_PROBE_SQL, storedDownSqlFromRows, trackedFromRows, trackedRowsSql, type TrackingProbeRow } from './tracking.js';

export interface DatabaseFacts {
  /** The tool's table (schema_migrations, …): the version, or the applied set. */
  readonly current: SchemaVersion | null;
  /** dbguard's tracking rows (_dbguard.applied_migrations). */
  readonly tracked: readonly TrackedMigration[];
  /** The tracking table is there with every column: a write needs no CREATE … IF NOT EXISTS first. */
  readonly trackingReady: boolean;
  /**
   * The stored down SQL of the tracked versions not on disk (what a rollback looks for), read with the
   * rows; `downSqlNotRead`: the tracked versions whose down SQL was left in the table (those on disk).
   */
  readonly storedDownSql: ReadonlyMap<bigint, DownSql>;
  readonly downSqlNotRead: ReadonlySet<bigint>;
}

type Rows = { rows: Array<Record<string, unknown>> };
/** A simple-query batch: pg answers one result per statement (one object when there is one). */
async function batch(client: PgClient, statements: readonly string[]): Promise<Rows[]> {
  const answer = (await client.query(statements.map((s) => s.trim().replace(/;$/, '')).join(';\n'))) as unknown as Rows | Rows[];
  return Array.isArray(answer) ? answer : [answer];
}

/** `onDisk`: the versions whose up file is on disk; given, the down SQL of the other tracked versions comes along. */
export async function readFacts(client: PgClient, format: MigrationFormat, onDisk?: readonly bigint[]): Promise<DatabaseFacts> {
  const [toolProbe, trackingProbe] = await batch(client, [format.trackingFactsSql, TRACKING_PROBE_SQL]);
  const versionHere = versionTableReadable(format, toolProbe?.rows[0] as TrackingFactsRow | undefined);
  const probe = trackingProbe?.rows[0] as TrackingProbeRow | undefined;
  const trackedHere = probe?.here === true;
  const wanted = [...(versionHere ? [format.readAppliedSql] : []), ...(trackedHere && probe ? [trackedRowsSql(probe, onDisk)] : [])];
  const answers = wanted.length === 0 ? [] : await batch(client, wanted);
  const versionRows = versionHere ? answers[0] : undefined;
  const trackedRows = trackedHere ? answers[versionHere ? 1 : 0] : undefined;
  const rows = (trackedRows?.rows ?? []) as unknown as Parameters<typeof trackedFromRows>[0];
  const tracked = trackedFromRows(rows);
  const disk = new Set(onDisk);
  return {
    current: versionRows ? format.appliedFromRows(versionRows.rows) : null,
    tracked,
    trackingReady: trackedHere && probe?.no_down === true,
    storedDownSql: storedDownSqlFromRows(rows),
    downSqlNotRead: new Set(tracked.map((row) => row.version).filter((version) => onDisk === undefined || disk.has(version))),
  };
}
