/**
 * The schema record in use (DESIGN §11): a run records the schema at the version it starts from (when
 * there is no record yet) and, where it ends, compares the live schema with the record for that
 * version. A rollback whose downs left or lost something says which objects and which downs; the
 * record is kept, so `status` goes on showing the drift until it is dealt with. A migrate that reaches
 * a version whose record differs says so (an edited migration, or changes by hand) and records anew —
 * unless the run itself changed what that version stands for (steps below the top, a replay, a
 * re-applied edit): then the record is renewed, saying why.
 */
import { describeDiff, diffSchemas, isSameSchema, withoutObjects, type SchemaDiff } from '../core/schema.js';
import { listVersions } from '../core/text.js';
import type { PgClient } from '../db/client.js';
import { readFingerprint } from '../db/fingerprint.js';
import type { MigrationFormat } from '../core/format.js';
import { readSchemaRecord, writeSchemaRecord } from '../db/schema-record.js';
import { readMigrationChanges, startRecordingChanges, stopRecordingChanges } from '../db/schema-events.js';
import { leftByDown } from '../core/schema-changes.js';

export interface SchemaCheck {
  readonly version: bigint | null;
  readonly state: 'as-recorded' | 'drift' | 'recorded-now' | 'not-recorded';
  readonly diff?: SchemaDiff;
  readonly message: string;
}

/** "Nothing applied" is recorded under 0, which no migration version can be. */
const keyOf = (version: bigint | null) => version ?? 0n;
const label = (version: bigint | null) => (version === null ? 'nothing applied' : version.toString());

export async function recordStart(client: PgClient, format: MigrationFormat, version: bigint | null): Promise<void> {
  if (await readSchemaRecord(client, keyOf(version))) return;
  await writeSchemaRecord(client, keyOf(version), await readFingerprint(client, format));
}

/**
 * `recordIfMissing`: a rollback records the version it reaches; a migrate need not (the next run that
 * starts there records it), which keeps a catalog read of the whole schema off migrate's path.
 */
/**
 * Per migration (§11), from the event triggers' record: what each of these downs left that its up made,
 * or made itself ("table public.orders_backup" → the version whose down left it).
 */
export async function leftByDowns(client: PgClient, versions: readonly bigint[]): Promise<Map<string, bigint>> {
  const changes = await readMigrationChanges(client, versions);
  const found = new Map<string, bigint>();
  for (const version of versions) for (const object of leftByDown(changes.get(version)) ?? []) found.set(object, version);
  return found;
}

/** The event triggers for a migrate or rollback run, when this user may create them; always removed after. */
export async function recordingChanges<T>(client: PgClient, work: (recording: boolean) => Promise<T>): Promise<T> {
  const recording = await startRecordingChanges(client).catch(() => false);
  try {
    return await work(recording);
  } finally {
    if (recording) await stopRecordingChanges(client).catch(() => undefined);
  }
}

/**
 * `renewed`: why this run changed what the version stands for (an edited migration applied again,
 * migrations applied or rolled back below the top): its record is of another schema, so the live one
 * is recorded anew, saying why — not blamed on an edit or changes by hand. What the per-migration
 * record knows a down left behind is still reported.
 */
export async function checkReached(
  client: PgClient, format: MigrationFormat, version: bigint | null, downsRun: readonly bigint[], recordIfMissing = true, leftBy: ReadonlyMap<string, bigint> = new Map(),
  renewed?: string,
): Promise<SchemaCheck> {
  const record = await readSchemaRecord(client, keyOf(version));
  if (!record && !recordIfMissing) return { version, state: 'not-recorded', message: `no schema record for ${label(version)} yet` };
  if (!record && leftBy.size > 0) {
    // No whole-schema record here, but the per-migration one knows what the downs left: say it, and do
    // not record a schema that holds leftovers as this version's.
    const diff: SchemaDiff = { added: [...leftBy.keys()], removed: [], changed: [] };
    return { version, state: 'drift', diff, message: `schema at ${label(version)}: ${describeDiff(diff, 5, leftBy)}` };
  }
  const live = await readFingerprint(client, format);
  if (!record) {
    await writeSchemaRecord(client, keyOf(version), live);
    return { version, state: 'recorded-now', message: `schema recorded for ${label(version)}` };
  }
  const diff = diffSchemas(record.fingerprint, live);
  if (renewed !== undefined) {
    // What the per-migration record says a down left is drift (the old record may even hold it); the
    // rest is what the steps did. The record becomes the schema without those leftovers, so status
    // goes on naming them.
    const left = [...leftBy.keys()].filter((key) => live.has(key));
    if (left.length > 0) {
      await writeSchemaRecord(client, keyOf(version), withoutObjects(live, left));
      const leftovers: SchemaDiff = { added: left, removed: [], changed: [] };
      return { version, state: 'drift', diff: leftovers, message: `schema at ${label(version)}: ${describeDiff(leftovers, 5, leftBy)}` };
    }
    if (!isSameSchema(diff)) {
      await writeSchemaRecord(client, keyOf(version), live);
      return { version, state: 'recorded-now', message: `schema recorded anew for ${label(version)} (${renewed})` };
    }
  }
  if (isSameSchema(diff)) return asRecorded(version, 'schema: ');
  if (downsRun.length > 0) {
    // Named per migration where the record says which down it was; otherwise the downs of this run.
    const named = diff.added.length > 0 && diff.removed.length === 0 && diff.changed.length === 0 && diff.added.every((key) => leftBy.has(key) || !key.startsWith('table '));
    const by = downsRun.length === 1 ? `the down of ${downsRun[0]}` : `the downs of ${listVersions(downsRun)}`;
    return { version, state: 'drift', diff, message: `schema differs from the record for ${label(version)}: ${describeDiff(diff, 5, leftBy)}${named && leftBy.size > 0 ? '' : ` (by ${by})`}` };
  }
  await writeSchemaRecord(client, keyOf(version), live);
  return { version, state: 'drift', diff, message: `schema differs from what was recorded for ${label(version)} earlier: ${describeDiff(diff)} (an edited migration, or changes by hand); recorded anew` };
}

/** `capture` accepts the database as it is: its schema becomes the record for its version. */
export async function acceptSchema(client: PgClient, format: MigrationFormat, version: bigint | null): Promise<void> {
  await writeSchemaRecord(client, keyOf(version), await readFingerprint(client, format));
}

/** For `status`: the live schema against the record for the current version, without writing. */
export async function compareWithRecord(client: PgClient, format: MigrationFormat, version: bigint | null): Promise<SchemaCheck | null> {
  const record = await readSchemaRecord(client, keyOf(version));
  if (!record) return null;
  const diff = diffSchemas(record.fingerprint, await readFingerprint(client, format));
  return isSameSchema(diff) ? asRecorded(version, '') : { version, state: 'drift', diff, message: `differs from the record for ${label(version)}: ${describeDiff(diff)}` };
}

const asRecorded = (version: bigint | null, prefix: string): SchemaCheck => ({ version, state: 'as-recorded', message: `${prefix}as recorded for ${label(version)}` });
