/**
 * The tracking table of the project's migration tool (src/formats), read and written with the SQL
 * its format gives, exactly as the tool does, so the project's own migrator keeps working. Another
 * tool's table is a clear error (FORMAT_NOT_SUPPORTED), never an internal one nor "nothing applied".
 */
import { DbguardError } from '../core/errors.js';
import type { SchemaVersion } from '../core/plan.js';
import { FORMATS, isFormatName, keepsDirtyFlag } from '../formats/index.js';
import type { MigrationFormat, RecordedMigration } from '../core/format.js';
import { otherToolOf } from '../formats/shared.js';
import type { PgClient } from './client.js';

function notThisFormat(format: MigrationFormat, found: string, tool: string | null): DbguardError {
  const isTool = tool !== null && !tool.includes(' or ');
  return new DbguardError('FORMAT_NOT_SUPPORTED', `${found}${tool ? ` (${tool}'s)` : ''}, not ${format.name}'s ${format.trackingTable}; dbguard changed nothing`, {
    hint: isTool ? `set "format": "${tool}" in dbguard.config.json if ${tool} manages this database, or point database.url at the database ${format.name} manages` : `point database.url at a database ${format.name} manages, or check what created ${format.trackingTable}`,
    details: { found, tool },
  });
}

interface TrackingFacts {
  readonly facts: { here: boolean; columns: string[]; others: string[] } | undefined;
  readonly other: string | null;
  readonly problem: { found: string; tool: string | null } | null;
  /** The tool whose table this is, when it is not the format's own. */
  readonly tool: string | null;
}

export type TrackingFactsRow = { here: boolean; columns: string[]; others: string[] };

function trackingFactsOf(format: MigrationFormat, facts: TrackingFactsRow | undefined): TrackingFacts {
  const other = facts?.here ? null : facts?.others[0] ?? null;
  const problem = facts?.here ? format.shapeProblem(facts.columns) : null;
  return { facts, other, problem, tool: other ? otherToolOf(other) : problem?.tool ?? null };
}

async function trackingFacts(client: PgClient, format: MigrationFormat): Promise<TrackingFacts> {
  return trackingFactsOf(format, (await client.query<TrackingFactsRow>(format.trackingFactsSql)).rows[0]);
}

/**
 * Whether the tool's table is there to read (false: nothing applied yet), from its facts row; another
 * tool's table, or this one in another shape, is FORMAT_NOT_SUPPORTED.
 */
export function versionTableReadable(format: MigrationFormat, row: TrackingFactsRow | undefined): boolean {
  const { facts, other, problem, tool } = trackingFactsOf(format, row);
  if (other) throw notThisFormat(format, `this database tracks its migrations in ${other}`, tool);
  if (!facts?.here) return false;
  if (problem) throw notThisFormat(format, problem.found, problem.tool);
  return true;
}

/**
 * No file and no config named the format: the tracking table tells it (DESIGN §15), once per session,
 * when it is another tool's that dbguard reads; otherwise the default stays.
 */
export async function formatToldByTable(client: PgClient, fallback: MigrationFormat): Promise<MigrationFormat> {
  const { tool } = await trackingFacts(client, fallback);
  return tool !== null && isFormatName(tool) ? FORMATS[tool] : fallback;
}

export async function readSchemaVersion(client: PgClient, format: MigrationFormat): Promise<SchemaVersion | null> {
  const row = (await client.query<TrackingFactsRow>(format.trackingFactsSql)).rows[0];
  if (!versionTableReadable(format, row)) return null;
  return format.appliedFromRows((await client.query(format.readAppliedSql)).rows);
}

export async function ensureSchemaMigrationsTable(client: PgClient, format: MigrationFormat): Promise<void> {
  await client.query(format.createTableSql);
}

/** Records one apply, as the tool does; `top`: what a top-only table holds after it. */
export const appliedStatements = (format: MigrationFormat, migration: RecordedMigration, top: bigint): string => format.recordApplySql(migration, top);
/** Records one un-apply; `after`: the top left. */
export const unappliedStatements = (format: MigrationFormat, migration: RecordedMigration, after: bigint | null): string => format.recordUnapplySql(migration, after);

/** Marks `version` dirty before SQL that runs outside a transaction; nothing for a tool without the flag. */
export async function markDirty(client: PgClient, format: MigrationFormat, version: bigint | null): Promise<void> {
  if (keepsDirtyFlag(format)) await client.query(format.setVersionSql(version, true));
}

/** force on a tool without a dirty flag. */
export const forceNotApplicable = (format: MigrationFormat): DbguardError => new DbguardError('FORCE_NOT_APPLICABLE', `${format.name} keeps no dirty flag, so there is nothing for force to clear`, { hint: 'dbguard status' });

/** force: the version set clean (only a format with a dirty flag has one to set). */
export async function writeSchemaVersion(client: PgClient, format: MigrationFormat, version: bigint | null, dirty: boolean): Promise<void> {
  if (!keepsDirtyFlag(format)) throw forceNotApplicable(format);
  await client.query(format.setVersionSql(version, dirty));
}
