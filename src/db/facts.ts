/**
 * What the database says, read once per run in two round trips: whether the tool's table and dbguard's
 * tracking table are there (one probe), then both tables' rows (one batch). Every plan starts from it.
 */
import type { MigrationFormat } from '../core/format.js';
import type { SchemaVersion, TrackedMigration } from '../core/plan.js';
import type { PgClient } from './client.js';
import { versionTableReadable, type TrackingFactsRow } from './schema-migrations.js';
import { TRACKING_PROBE_SQL, trackedFromRows, trackedRowsSql, type TrackingProbeRow } from './tracking.js';

export interface DatabaseFacts {
  /** The tool's table (schema_migrations, …): the version, or the applied set. */
  readonly current: SchemaVersion | null;
  /** dbguard's tracking rows (_dbguard.applied_migrations). */
  readonly tracked: readonly TrackedMigration[];
  /** The tracking table is there with every column: a write needs no CREATE … IF NOT EXISTS first. */
  readonly trackingReady: boolean;
}

type Rows = { rows: Array<Record<string, unknown>> };
/** A simple-query batch: pg answers one result per statement (one object when there is one). */
async function batch(client: PgClient, statements: readonly string[]): Promise<Rows[]> {
  const answer = (await client.query(statements.map((s) => s.trim().replace(/;$/, '')).join(';\n'))) as unknown as Rows | Rows[];
  return Array.isArray(answer) ? answer : [answer];
}

export async function readFacts(client: PgClient, format: MigrationFormat): Promise<DatabaseFacts> {
  const [toolProbe, trackingProbe] = await batch(client, [format.trackingFactsSql, TRACKING_PROBE_SQL]);
  const versionHere = versionTableReadable(format, toolProbe?.rows[0] as TrackingFactsRow | undefined);
  const probe = trackingProbe?.rows[0] as TrackingProbeRow | undefined;
  const trackedHere = probe?.here === true;
  const wanted = [...(versionHere ? [format.readAppliedSql] : []), ...(trackedHere && probe ? [trackedRowsSql(probe)] : [])];
  const answers = wanted.length === 0 ? [] : await batch(client, wanted);
  const versionRows = versionHere ? answers[0] : undefined;
  const trackedRows = trackedHere ? answers[versionHere ? 1 : 0] : undefined;
  return {
    current: versionRows ? format.appliedFromRows(versionRows.rows) : null,
    tracked: trackedRows ? trackedFromRows(trackedRows.rows as unknown as Parameters<typeof trackedFromRows>[0]) : [],
    trackingReady: trackedHere && probe?.no_down === true,
  };
}
