/**
 * Stashed rows a person reads or takes out (issue 25.7): values no restore can put back (no primary
 * key to match their rows by, rows changed since, a column gone) are shown as they were kept, and
 * copied into an ordinary table of their own to be put back by hand. The stash keeps them either way.
 */
import { DbguardError } from '../core/errors.js';
import { qualifiedName, type StashEntry } from '../core/stash.js';
import { TRACKING_SCHEMA } from '../core/schema.js';
import { quoteIdentifier, relationExists, type PgClient } from './client.js';
import { stashDataTable } from './stash.js';
import { RESTORED_MARK, stashedColumns } from './stash-put-back.js';

export interface KeptRows {
  readonly columns: string[];
  /** Values as text (as kept), in the stash's own order; null is NULL. */
  readonly rows: Array<Array<string | null>>;
  /** How many rows the entry holds (may be more than `rows`). */
  readonly total: number;
  /** Rows already back in the table without some of their values (those values are what stays). */
  readonly alreadyBack: number;
}

const selectList = (columns: readonly string[]) => columns.map(quoteIdentifier).join(', ');

/** The first `limit` rows of an entry, without dbguard's own bookkeeping (the row fingerprint, the restored mark). */
export async function readKeptRows(client: PgClient, entry: StashEntry, limit: number): Promise<KeptRows> {
  const data = stashDataTable(entry.id);
  const { names, marked } = await stashedColumns(client, entry.id);
  const rows = (await client.query<{ r: Array<string | null> }>(`SELECT ARRAY[${names.map((n) => `${quoteIdentifier(n)}::text`).join(', ')}] AS r FROM ${data} ORDER BY ctid LIMIT $1`, [limit])).rows.map((row) => row.r);
  const counts = (await client.query<{ total: string; back: string }>(
    `SELECT count(*)::text AS total, ${marked ? `count(*) FILTER (WHERE ${RESTORED_MARK})` : '0'}::text AS back FROM ${data}`)).rows[0];
  return { columns: names, rows, total: Number(counts?.total ?? 0), alreadyBack: Number(counts?.back ?? 0) };
}

/** The default table `stash export` copies into: in public, named for the entry. */
export const defaultExportTarget = (entry: StashEntry) => ({ schema: 'public', table: `dbguard_stash_${entry.id}` });

/**
 * Copies every kept row of `entry` into a new table (text columns, the stash's names), leaving the
 * stash as it is. An existing table is never written to, and a schema is never made: both refused,
 * nothing changed. Nor is the name of a table any stash entry (`entries`) was kept from: the migration
 * that made it makes it again, which a table of that name would make fail.
 */
export async function exportKeptRows(client: PgClient, entry: StashEntry, target: { schema: string; table: string }, entries: readonly StashEntry[]): Promise<number> {
  const name = qualifiedName(target.schema, target.table);
  const hint = `dbguard stash export ${entry.id} --table <schema>.<new table name>`;
  if (target.schema === TRACKING_SCHEMA || target.schema.startsWith('pg_') || target.schema === 'information_schema') {
    throw new DbguardError('STASH_EXPORT_TARGET', `${name} is in a schema of ${target.schema === TRACKING_SCHEMA ? 'dbguard' : 'the system'}; nothing was exported`, { hint });
  }
  if (!(await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [target.schema])).rowCount) {
    throw new DbguardError('STASH_EXPORT_TARGET', `schema ${target.schema} does not exist; nothing was exported`, { hint });
  }
  const rel = `${quoteIdentifier(target.schema)}.${quoteIdentifier(target.table)}`;
  if (await relationExists(client, rel)) {
    throw new DbguardError('STASH_EXPORT_TARGET', `${name} already exists; nothing was exported (an export never writes into a table it did not make)`, { hint });
  }
  const keptFrom = entries.find((e) => e.schema === target.schema && e.table === target.table);
  if (keptFrom) {
    const defaultName = defaultExportTarget(entry);
    throw new DbguardError('STASH_EXPORT_TARGET', `${name} is the table stash ${keptFrom.id} was kept from: applying ${keptFrom.version} again (dbguard migrate) makes it and puts its rows back, so an export never takes its name; nothing was exported`, {
      hint: `dbguard stash export ${entry.id} (into ${qualifiedName(defaultName.schema, defaultName.table)}), or --table <schema>.<another name>`,
    });
  }
  const { names } = await stashedColumns(client, entry.id);
  return (await client.query(`CREATE TABLE ${rel} AS SELECT ${selectList(names)} FROM ${stashDataTable(entry.id)} ORDER BY ctid`)).rowCount ?? 0;
}
