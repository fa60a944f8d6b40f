/**
 * The tracking table of the project's migration tool (src/formats), read and written with the SQL
 * its format gives, exactly as the tool does, so the project's own migrator keeps working. Another
 * tool's table is a clear error (FORMAT_NOT_SUPPORTED), never an internal one nor "nothing applied".
 */
import { DbguardError } from '../core/errors.js';
import type { SchemaVersion } from '../core/plan.js';
import { projectFormat as format } from '../formats/index.js';
import { otherToolOf } from '../formats/golang-migrate.js';
import type { PgClient } from './client.js';

function notThisFormat(found: string, tool: string | null): DbguardError {
  return new DbguardError('FORMAT_NOT_SUPPORTED', `${found}${tool ? ` (${tool}'s)` : ''}, not ${format.name}'s ${format.trackingTable}; dbguard reads ${format.name}'s migrations only for now, and changed nothing`, {
    hint: tool ? `dbguard does not support ${tool} yet; point database.url at a database ${format.name} manages` : `point database.url at a database ${format.name} manages, or check what created ${format.trackingTable}`,
    details: { found, tool },
  });
}

export async function readSchemaVersion(client: PgClient): Promise<SchemaVersion | null> {
  const facts = (await client.query<{ here: boolean; columns: string[]; others: string[] }>(format.trackingFactsSql)).rows[0];
  if (!facts?.here) {
    const other = facts?.others[0];
    if (other) throw notThisFormat(`this database tracks its migrations in ${other}`, otherToolOf(other));
    return null;
  }
  const problem = format.shapeProblem(facts.columns);
  if (problem) throw notThisFormat(problem.found, problem.tool);
  return format.versionFromRow((await client.query<{ version: string; dirty: boolean }>(format.readVersionSql)).rows[0]);
}

export async function ensureSchemaMigrationsTable(client: PgClient): Promise<void> {
  await client.query(format.createTableSql);
}

/** Sets the version; null means "nothing applied". */
export async function writeSchemaVersion(client: PgClient, version: bigint | null, dirty: boolean): Promise<void> {
  await client.query(format.setVersionSql(version, dirty));
}

/** The statements that set the version (run inside a step's own transaction). */
export const schemaVersionStatements = (version: bigint | null, dirty: boolean): string => format.setVersionSql(version, dirty);
