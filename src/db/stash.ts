/**
 * Keeping the rows a down drops (DESIGN §13). Inside the step's transaction: read the catalog, run the
 * down under a savepoint, read it again; if a table or column that may hold rows is gone, roll back to
 * the savepoint, copy those rows into `_dbguard`, and run the down again. The copy commits or rolls
 * back with the step, so a kill never leaves a stash without its rollback or the reverse.
 */
import { DbguardError } from '../core/errors.js';
import { findDropped, isNothingDropped, qualifiedName, rowCheckColumns, unmatchedBecause, type CatalogTable, type CatalogTables, type Dropped, type StashEntry, type WouldDrop } from '../core/stash.js';
import { TRACKING_SCHEMA } from '../core/schema.js';
import { formatBytes } from '../core/text.js';
import { inTransaction, quoteIdentifier, type PgClient } from './client.js';
import type { MigrationFormat } from '../core/format.js';

export const STASH_TABLE = `${TRACKING_SCHEMA}.stash`;
export const stashDataTable = (id: number) => `${TRACKING_SCHEMA}.stash_data_${id}`;

/** Built per call: the tracking table left out is the project's format's. */
const catalogSql = (table: string) => `
SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS table, pg_relation_size(c.oid) > 0 AS may_have_rows,
  COALESCE((SELECT json_agg(json_build_array(a.attnum, a.attname)) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS columns,
  COALESCE((SELECT json_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum)) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    WHERE i.indrelid = c.oid AND i.indisprimary), '[]') AS primary_key,
  COALESCE((SELECT json_agg(a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''), '[]') AS generated
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', '${TRACKING_SCHEMA}')
  AND NOT (c.relname = '${table}' AND n.nspname = current_schema())`;

export async function readCatalogTables(client: PgClient, format: MigrationFormat): Promise<CatalogTables> {
  const result = await client.query<{ oid: number; schema: string; table: string; may_have_rows: boolean; columns: Array<[number, string]>; primary_key: string[]; generated: string[] }>(catalogSql(format.trackingTable));
  return new Map(result.rows.map((row) => [row.oid, {
    oid: row.oid, schema: row.schema, table: row.table, mayHaveRows: row.may_have_rows, columns: new Map(row.columns), primaryKey: row.primary_key, generated: row.generated,
  }]));
}

export async function ensureStashTable(client: PgClient): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${TRACKING_SCHEMA}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${STASH_TABLE} (
    id bigserial PRIMARY KEY, version bigint NOT NULL, up_sha256 text, kind text NOT NULL, schema_name text NOT NULL, table_name text NOT NULL,
    column_name text, key_columns text[] NOT NULL DEFAULT '{}', row_count bigint NOT NULL, bytes bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), note text)`);
  await client.query(`ALTER TABLE ${STASH_TABLE} ADD COLUMN IF NOT EXISTS row_check text[]`);
}

/**
 * The text form of a value: no user type, domain or enum can be dropped (or CASCADE) out from under it.
 * Rows are read FROM ONLY the table: an inheriting child's rows are the child's own entry, not the parent's.
 */
const asText = (column: string) => `${quoteIdentifier(column)}::text AS ${quoteIdentifier(column)}`;

/** md5 of the row's check columns as text, the same expression at stash and at restore time. */
export function rowFingerprint(columns: readonly string[], alias = ''): string {
  return `md5(ROW(${columns.map((c) => `${alias}${quoteIdentifier(c)}::text`).join(', ')})::text)`;
}

export const ROW_CHECK_COLUMN = 'dbguard_row_md5';

const target = (table: CatalogTable) => `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.table)}`;

/** What one step keeps: its migration, the bound, and the running total of what the stash holds. */
export interface StashContext {
  readonly maxBytes: number;
  /** The project's format: its tracking table is never a table to keep rows of. */
  readonly format: MigrationFormat;
  /** The catalog after the previous step (its commit changed no table), so each step reads it once. */
  catalog: CatalogTables | null;
  /** Everything kept by this run, for the report. */
  readonly kept: StashEntry[];
  /** The stash table exists (made once per run). */
  ready: boolean;
}

export function newStashContext(maxBytes: number, format: MigrationFormat): StashContext {
  return { maxBytes, format, catalog: null, kept: [], ready: false };
}

/** Copies what `dropped` names (rows, or non-null values with the primary key) into `_dbguard`, bounded. */
async function keepRows(client: PgClient, version: bigint, dropped: Dropped, context: StashContext, foundUpSha256?: string): Promise<StashEntry[]> {
  if (!context.ready) {
    await ensureStashTable(client);
    context.ready = true;
  }
  const items = [
    ...dropped.tables.map((table) => ({ table, column: null as string | null })),
    ...dropped.columns.map((c) => ({ table: c.table, column: c.column })),
  ];
  // One round trip for what every item needs: the migration's up sha256, the bytes in use, and ids.
  const meta = await client.query<{ sha: string | null; used: string; ids: string[] }>(
    `SELECT (SELECT up_sha256 FROM ${TRACKING_SCHEMA}.applied_migrations WHERE version = $1) AS sha,
            (SELECT COALESCE(sum(bytes), 0)::text FROM ${STASH_TABLE}) AS used,
            ARRAY(SELECT nextval(pg_get_serial_sequence('${STASH_TABLE}', 'id'))::text FROM generate_series(1, $2)) AS ids`,
    [version.toString(), items.length]);
  // The tracking table's record of what was applied wins; without one, the up file beside the down used.
  const upSha256 = meta.rows[0]?.sha ?? foundUpSha256 ?? null;
  let used = Number(meta.rows[0]?.used ?? 0);
  const ids = (meta.rows[0]?.ids ?? []).map(Number);
  const kept: StashEntry[] = [];
  for (const [index, { table, column }] of items.entries()) {
    const id = ids[index] as number;
    // A column is matched back by the primary key; without one (or when the key itself goes) nothing can match it.
    const key = column !== null && unmatchedBecause(table, column) === null ? table.primaryKey : [];
    const droppedHere = dropped.columns.filter((c) => c.table.oid === table.oid).map((c) => c.column);
    const rowCheck = column === null || key.length === 0 ? null : rowCheckColumns(table, droppedHere);
    // Values no restore can match keep their rows' other values beside them, to be put back by hand (issue 25.7).
    const rowContext = column !== null && key.length === 0 ? rowCheckColumns(table, droppedHere).filter((c) => c !== column) : [];
    // Every value as text (§13: a down that drops the column's type, or CASCADEs through it, cannot take
    // the stash's copy with it), NULLs included (a re-added column's default must not replace them).
    const generated = new Set(table.generated ?? []);
    if (column !== null && generated.has(column)) continue; // computed again from the others
    const select = column === null
      ? `SELECT ${[...table.columns.values()].filter((c) => !generated.has(c)).map(asText).join(', ')} FROM ONLY ${target(table)}`
      : `SELECT ${[...key, ...rowContext, column].map(asText).join(', ')}${rowCheck ? `, ${rowFingerprint(rowCheck)} AS ${ROW_CHECK_COLUMN}` : ''} FROM ONLY ${target(table)}`;
    const rows = (await client.query(`CREATE TABLE ${stashDataTable(id)} AS ${select}`)).rowCount ?? 0;
    if (rows === 0) {
      await client.query(`DROP TABLE ${stashDataTable(id)}`);
      continue;
    }
    const row = await client.query<{ bytes: string; created_at: Date }>(
      `INSERT INTO ${STASH_TABLE} (id, version, up_sha256, kind, schema_name, table_name, column_name, key_columns, row_count, bytes, row_check)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, pg_total_relation_size('${stashDataTable(id)}'), $10) RETURNING bytes::text, created_at`,
      [id, version.toString(), upSha256, column === null ? 'table' : 'column', table.schema, table.table, column, key, rows, rowCheck],
    );
    const bytes = Number(row.rows[0]?.bytes ?? 0);
    if (used + bytes > context.maxBytes) {
      // Thrown inside the step's transaction: the copy and the step go back together.
      throw new DbguardError('STASH_FULL', `keeping the ${rows} rows of ${qualifiedName(table.schema, table.table, column)} (${formatBytes(bytes)}) would pass the stash's bound (${formatBytes(context.maxBytes)}, ${formatBytes(used)} in use); this step was not rolled back`, {
        hint: 'dbguard stash list, then dbguard stash drop <id>; or raise "stash": { "maxBytes": … } in dbguard.config.json ("stash": false lets rollbacks drop rows)',
        details: { version: version.toString(), bytes, used, maxBytes: context.maxBytes },
      });
    }
    used += bytes;
    kept.push({
      id, version, upSha256, kind: column === null ? 'table' : 'column', schema: table.schema, table: table.table, column, keyColumns: key, rowCheck, rows, bytes,
      createdAt: (row.rows[0]?.created_at ?? new Date()).toISOString(), note: null,
    });
  }
  return kept;
}

/**
 * Runs a down inside the caller's open transaction, keeping the rows of what it drops. The down runs
 * once when it drops nothing that may hold rows, and twice (the first undone) when it does.
 */
/**
 * Runs a down under a savepoint and compares the catalog before and after it. When it dropped
 * something that may hold rows, the down is undone, `whileThere` runs with those tables still in
 * place, and the down runs again. Returns the catalog after the down, or null after a second run:
 * what the down made itself (a backup table) has new oids then, so the caller reads it afresh.
 */
async function runDownSeeingDrops(client: PgClient, format: MigrationFormat, downSql: string, before: CatalogTables, whileThere: (dropped: Dropped) => Promise<void>): Promise<CatalogTables | null> {
  await client.query('SAVEPOINT dbguard_probe');
  await client.query(downSql);
  const after = await readCatalogTables(client, format);
  const dropped = findDropped(before, after);
  if (isNothingDropped(dropped)) {
    await client.query('RELEASE SAVEPOINT dbguard_probe');
    return after;
  }
  await client.query('ROLLBACK TO SAVEPOINT dbguard_probe');
  await whileThere(dropped);
  await client.query(downSql);
  await client.query('RELEASE SAVEPOINT dbguard_probe');
  return null;
}

export async function runDownKeepingRows(client: PgClient, version: bigint, downSql: string, context: StashContext | null, upSha256?: string): Promise<void> {
  if (context === null) {
    await client.query(downSql);
    return;
  }
  const before = context.catalog ?? (await readCatalogTables(client, context.format));
  context.catalog = await runDownSeeingDrops(client, context.format, downSql, before, async (dropped) => {
    context.kept.push(...(await keepRows(client, version, dropped, context, upSha256)));
  });
}

/** How many rows (or non-null values) each dropped table (or column) holds. */
async function countDropped(client: PgClient, dropped: Dropped): Promise<WouldDrop[]> {
  const found: WouldDrop[] = [];
  for (const table of dropped.tables) {
    const n = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${target(table)}`);
    found.push({ object: `table ${qualifiedName(table.schema, table.table)}`, rows: Number(n.rows[0]?.n ?? 0) });
  }
  for (const { table, column } of dropped.columns) {
    const n = await client.query<{ n: string }>(`SELECT count(${quoteIdentifier(column)})::text AS n FROM ONLY ${target(table)}`);
    const notBack = unmatchedBecause(table, column);
    found.push({ object: `column ${qualifiedName(table.schema, table.table, column)}`, rows: Number(n.rows[0]?.n ?? 0), ...(notBack ? { notBack } : {}) });
  }
  return found;
}

/** Rows each step's down would drop, for the plan: every down run in one transaction that is rolled back. */
export async function countRowsEachDownDrops(
  client: PgClient, format: MigrationFormat, steps: ReadonlyArray<{ version: bigint; downSql: string | null }>,
): Promise<Map<bigint, WouldDrop[] | { error: string }>> {
  const counts = new Map<bigint, WouldDrop[] | { error: string }>();
  await inTransaction(client, async () => {
    let before = await readCatalogTables(client, format);
    for (const step of steps) {
      if (step.downSql === null) continue;
      try {
        let found: WouldDrop[] = [];
        const after = await runDownSeeingDrops(client, format, step.downSql, before, async (dropped) => {
          found = await countDropped(client, dropped);
        });
        counts.set(step.version, found.filter((f) => f.rows > 0));
        before = after ?? (await readCatalogTables(client, format));
      } catch (error) {
        // This down cannot run here (outside a transaction, or a failure the plan will meet too): stop counting.
        counts.set(step.version, { error: (error as Error).message });
        break;
      }
    }
  }, 'ROLLBACK');
  return counts;
}
