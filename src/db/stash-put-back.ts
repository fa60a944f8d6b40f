/**
 * Putting one stash entry's rows (or column values) back into the table the up made again (DESIGN
 * §13). Rows move in one statement: `DELETE … RETURNING` from the stash feeds the INSERT (or UPDATE),
 * so what went back leaves the stash and what did not stays, under a savepoint that undoes both
 * together. The whole entry is tried in one statement; only when that fails is it split, so a wide
 * table costs what its rollback cost, and a child row whose parent exists goes back while the others wait.
 */
import { byHand, qualifiedName, restorableColumns, type LiveColumn, type StashEntry } from '../core/stash.js';
import { quoteIdentifier, relationExists, serverMajorVersion, type PgClient } from './client.js';
import { ROW_CHECK_COLUMN, stashDataTable } from './stash.js';
import { restoreColumn } from './stash-put-back-column.js';
import { advanceSequences, asColumnType, asRestore, checkDeferredNow, clashesWithOtherEntries, clashParts, contained, fitsType, isDataError, madeByUp, moveAll, NOTHING_MOVED, objectName, relationOf, sameKey, splitIfStopped, withoutUserTriggers, type Move, type Moved, type PutBackOptions, type PutBackOutcome } from './stash-moves.js';

export { checkDeferredNow, contained, relationOf, withoutUserTriggers, type KeyClash, type PgError, type PutBackOutcome } from './stash-moves.js';

/** Set on stashed rows that went back without all their values (a column gone or a value that does not fit): kept, not put back twice. */
export const RESTORED_MARK = 'dbguard_restored';

export async function liveColumns(client: PgClient, entry: StashEntry): Promise<LiveColumn[] | null> {
  const rel = relationOf(entry);
  if (!(await relationExists(client, rel))) return null;
  const result = await client.query<{ name: string; type: string; baseType: string; generated: boolean; notNull: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, format_type(atttypid, NULL) AS "baseType", attgenerated <> '' AS generated, attnotnull AS "notNull"
     FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [rel]);
  return result.rows;
}

export async function stashedColumns(client: PgClient, id: number): Promise<{ names: string[]; marked: boolean }> {
  const result = await client.query<{ name: string }>(`SELECT attname AS name FROM pg_attribute WHERE attrelid = '${stashDataTable(id)}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`);
  const names = result.rows.map((r) => r.name);
  return { names: names.filter((n) => n !== RESTORED_MARK && n !== ROW_CHECK_COLUMN), marked: names.includes(RESTORED_MARK) };
}

async function primaryKeyOf(client: PgClient, rel: string): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`, [rel]);
  return result.rows.map((r) => r.name);
}

/**
 * The stashed columns whose values do not all fit the re-created column's type. PostgreSQL 16 can tell
 * value by value (pg_input_is_valid), all columns in one scan; older servers try each column's cast.
 */
async function unfitColumns(client: PgClient, id: number, use: readonly LiveColumn[], perValue: boolean): Promise<Set<string>> {
  const unfit = new Set<string>();
  if (perValue) {
    const checks = use.map((c) => `bool_and(${quoteIdentifier(c.name)} IS NULL OR ${fitsType(client, quoteIdentifier(c.name), c)})`);
    const row = (await client.query<{ fits: boolean[] }>(`SELECT ARRAY[${checks.join(', ')}] AS fits FROM ${stashDataTable(id)}`)).rows[0];
    use.forEach((c, i) => { if (row?.fits[i] === false) unfit.add(c.name); });
    return unfit;
  }
  for (const column of use) {
    const cast = await contained(client, () => client.query(`SELECT count(${quoteIdentifier(column.name)}::${column.type}) FROM ${stashDataTable(id)}`));
    if ('error' in cast) unfit.add(column.name);
  }
  return unfit;
}

/** The INSERT of a table entry, given which columns fit as they are (unfit: put back value by value, or left out). */
function tableStatement(client: PgClient, entry: StashEntry, rel: string, shared: readonly LiveColumn[], missing: readonly string[], unfit: ReadonlySet<string>, perValue: boolean, key: readonly string[], options: PutBackOptions, marking: boolean, live: readonly LiveColumn[]) {
  const columns: string[] = [];
  const values: string[] = [];
  const filters: string[] = marking ? [`NOT s.${RESTORED_MARK}`] : ['true'];
  // Stashed columns the table no longer has: their values stay in the stash with the rows (issue 25.3).
  const leftOut: string[] = [...missing];
  let nulled = false;
  for (const column of shared) {
    const name = quoteIdentifier(column.name);
    if (!unfit.has(column.name)) {
      columns.push(name);
      values.push(asColumnType(name, column));
      continue;
    }
    if (!perValue) {
      leftOut.push(column.name);
      continue;
    }
    // A value that does not fit becomes NULL in a nullable column (and the row keeps it in the stash), and keeps its row there in a NOT NULL one.
    const valid = (prefix: string) => `(${prefix}${name} IS NULL OR ${fitsType(client, `${prefix}${name}`, column)})`;
    columns.push(name);
    values.push(`CASE WHEN ${valid('')} THEN ${asColumnType(name, column)} END`);
    if (column.notNull) filters.push(valid('s.'));
    else nulled = true;
  }
  const keyed = key.length > 0 && key.every((k) => columns.includes(quoteIdentifier(k)));
  if (keyed && (options.keyClash === 'keep' || options.upRows?.has(rel))) {
    // Keep: the table's row under the key is the user's. Replace: only a row the up made gives way, never one another entry put back.
    const given = options.keyClash === 'keep' ? '' : ` AND NOT ${madeByUp(options, rel)}`;
    filters.push(`NOT EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${sameKey(key, live, 't', 's')}${given})`);
  }
  // A row the up made again under the same key (seeded) is the up's default; the stashed one is what the
  // user had made of it: it wins (§13, same up sha256). A key-only row the table has is the same row.
  // Without a primary key there is no ON CONFLICT: a clash on another unique index stops the row, which
  // stays in the stash (a DO NOTHING would drop it silently).
  const others = columns.filter((c) => !key.map(quoteIdentifier).includes(c));
  const target = key.map(quoteIdentifier).join(', ');
  const onConflict = options.keyClash !== 'replace' || !keyed ? ''
    : others.length > 0 ? ` ON CONFLICT (${target}) DO UPDATE SET ${others.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}` : ` ON CONFLICT (${target}) DO NOTHING`;
  // Rows that went back without every value stay in the stash, marked, for the values that did not.
  const incomplete = leftOut.length > 0 || nulled;
  const data = stashDataTable(entry.id);
  // Every row at once, all complete: read them, and empty the stash table after (cheaper than deleting row by row).
  const where = filters.join(' AND ');
  const takesAll = where === 'true' && !incomplete;
  const take = (rows: string) => incomplete
    ? `UPDATE ${data} AS s SET ${RESTORED_MARK} = true WHERE ${rows} RETURNING s.*`
    : takesAll && rows === where ? `SELECT * FROM ${data} AS s` : `DELETE FROM ${data} AS s WHERE ${rows} RETURNING s.*`;
  const sql = (rows: string) => `WITH picked AS (${take(rows)}),
    put AS (INSERT INTO ${rel} (${columns.join(', ')}) OVERRIDING SYSTEM VALUE SELECT ${values.join(', ')} FROM picked${onConflict} RETURNING (xmax::text <> '0') AS replaced)
    SELECT (SELECT count(*) FROM picked)::int AS picked, count(*)::int AS applied, count(*) FILTER (WHERE replaced)::int AS replaced FROM put`;
  const afterAll = takesAll ? `TRUNCATE ${data}` : null;
  return { sql, where, afterAll, leftOut, incomplete, keyed };
}

async function restoreTable(client: PgClient, entry: StashEntry, rel: string, live: LiveColumn[], options: PutBackOptions): Promise<PutBackOutcome> {
  const object = objectName(entry);
  const data = stashDataTable(entry.id);
  const stashed = await stashedColumns(client, entry.id);
  const { use: shared, missing } = restorableColumns(stashed.names, live);
  const key = await primaryKeyOf(client, rel);
  const perValue = (await serverMajorVersion(client)) >= 16;
  let marking = stashed.marked;
  const statementFor = async (unfit: ReadonlySet<string>) => {
    const statement = tableStatement(client, entry, rel, shared, missing, unfit, perValue, key, options, marking, live);
    if (!statement.incomplete || marking) return statement;
    await client.query(`ALTER TABLE ${data} ADD COLUMN IF NOT EXISTS ${RESTORED_MARK} boolean NOT NULL DEFAULT false`);
    marking = true;
    return tableStatement(client, entry, rel, shared, missing, unfit, perValue, key, options, true, live);
  };
  const moveWith = (sql: (where: string) => string): Move => async (where, params) => {
    const row = (await client.query<Moved>(sql(where), params)).rows[0] ?? NOTHING_MOVED;
    if (statement.afterAll && where === statement.where) await client.query(statement.afterAll);
    if (options.alone) await checkDeferredNow(client);
    return row;
  };
  let unfit = new Set<string>();
  let statement = await statementFor(unfit);
  const work = async () => {
    let outcome = await moveAll(client, statement.where, moveWith(statement.sql));
    if (outcome.error && isDataError(outcome.error)) {
      // Some stashed values do not fit the column's new type: find which columns, once, and try again.
      unfit = await unfitColumns(client, entry.id, shared, perValue);
      statement = await statementFor(unfit);
      outcome = await moveAll(client, statement.where, moveWith(statement.sql));
    }
    return splitIfStopped(client, entry.id, statement.where, moveWith(statement.sql), outcome, options);
  };
  const { moved, error } = await asRestore(client, rel, options, work);
  // A row that stayed for its key (or, without a primary key, a unique index) and equals a row of the table
  // is that row: already there. Only when every stashed value is compared: one of a column gone stays.
  const identical = (statement.keyed || error?.code === '23505') && unfit.size === 0 && missing.length === 0 && shared.length > 0
    ? (await client.query(`DELETE FROM ${data} AS s WHERE ${marking ? `NOT s.${RESTORED_MARK}` : 'true'} AND EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${shared.map((c) => `t.${quoteIdentifier(c.name)} IS NOT DISTINCT FROM ${asColumnType(`s.${quoteIdentifier(c.name)}`, c)}`).join(' AND ')})`)).rowCount ?? 0
    : 0;
  if (options.moveSequences) await advanceSequences(client, rel, data);
  const completed = marking && options.alone ? await withoutUserTriggers(client, [rel], () => completeMarkedRows(client, data, rel, shared, key, live, perValue, missing.length === 0)) : { filled: 0, done: 0 };
  const counts = (await client.query<{ left: string; pending: string }>(
    `SELECT count(*)::text AS left, count(*) FILTER (WHERE ${marking ? `NOT ${RESTORED_MARK}` : 'true'})::text AS pending FROM ${data}`)).rows[0];
  const [left, pending] = [Number(counts?.left ?? 0), Number(counts?.pending ?? 0)];
  const parts = [`${object}: ${moved.applied} of ${entry.rows} rows put back`];
  if (moved.replaced > 0) parts.push(`${moved.replaced} of them over the rows the up made again under the same key`);
  if (moved.picked > moved.applied) parts.push(`${moved.picked - moved.applied} already there (same key)`);
  if (identical > 0) parts.push(`${identical} already there (the same row)`);
  if (completed.filled > 0) parts.push(`${completed.filled} values of rows that went back earlier without them filled in${completed.done > 0 ? ` (${completed.done} of those rows now complete, out of the stash)` : ''}`);
  const marked = left - pending;
  if (unfit.size > 0 && perValue) {
    parts.push(`values of ${[...unfit].join(', ')} do not fit the column's new type: ${pending > 0 && error === null ? `${pending} rows stay in stash ${entry.id}` : 'no row stays for them'}${marked > 0 ? `, ${marked} went back with them NULL (the values kept in stash ${entry.id})` : ''}`);
  } else if (pending > 0 && error === null) {
    const notMarked = marking ? `NOT s.${RESTORED_MARK}` : 'true';
    const byOthers = statement.keyed ? await clashesWithOtherEntries(client, options, rel, data, notMarked, sameKey(key, live, 't', 's')) : 0;
    parts.push(...clashParts(pending, byOthers, entry.id, options, 'the table has a row under the same key now (yours, kept)', `another stash entry${options.keyClash === 'keep' ? '' : ' of this migration'} put back a different row under the same key (kept)`));
  }
  else if (marked > 0 && moved.picked === 0) parts.push(`${marked} went back earlier without some of their values, which stay in stash ${entry.id}`);
  if (statement.leftOut.length > 0) parts.push(`columns not restored: ${statement.leftOut.join(', ')} (gone, or a type their values do not cast to); kept in stash ${entry.id} (${byHand(entry.id)})`);
  return { result: { id: entry.id, object, restored: moved.applied, left, message: parts.join('; ') }, error: pending > 0 ? error : null, blocked: error ? pending : 0 };
}

/**
 * Rows that went back earlier without some of their values (a value that did not fit then) are kept,
 * marked: the values that fit now fill the row's empty ones (by key; a value the user set since stays),
 * and a row whose every stashed value is now in the table leaves the stash.
 */
async function completeMarkedRows(
  client: PgClient, data: string, rel: string, shared: readonly LiveColumn[], key: readonly string[], live: readonly LiveColumn[], perValue: boolean, noneGone: boolean,
): Promise<{ filled: number; done: number }> {
  if (key.length === 0 || !(await client.query(`SELECT 1 FROM ${data} WHERE ${RESTORED_MARK} LIMIT 1`)).rowCount) return { filled: 0, done: 0 };
  const match = sameKey(key, live, 't', 's');
  const fits = (c: LiveColumn) => (perValue ? fitsType(client, `s.${quoteIdentifier(c.name)}`, c) : 'true');
  let filled = 0;
  for (const c of shared.filter((x) => !key.includes(x.name))) {
    const name = quoteIdentifier(c.name);
    const update = await contained(client, () => client.query(
      `UPDATE ${rel} AS t SET ${name} = ${asColumnType(`s.${name}`, c)} FROM ${data} AS s WHERE s.${RESTORED_MARK} AND ${match} AND t.${name} IS NULL AND s.${name} IS NOT NULL AND ${fits(c)}`));
    if ('ok' in update) filled += update.ok.rowCount ?? 0;
  }
  if (!noneGone) return { filled, done: 0 };
  const inTable = shared.map((c) => {
    const name = quoteIdentifier(c.name);
    return `(s.${name} IS NULL OR (${fits(c)} AND t.${name} IS NOT DISTINCT FROM CASE WHEN ${fits(c)} THEN ${asColumnType(`s.${name}`, c)} END))`;
  });
  const done = await contained(client, () => client.query(`DELETE FROM ${data} AS s WHERE s.${RESTORED_MARK} AND EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${match} AND ${inTable.join(' AND ')})`));
  return { filled, done: 'ok' in done ? done.ok.rowCount ?? 0 : 0 };
}

/** Restores one entry into its table, if the table is there again. */
export async function putBack(client: PgClient, entry: StashEntry, options: PutBackOptions): Promise<PutBackOutcome> {
  const live = await liveColumns(client, entry);
  if (live === null) {
    return { result: { id: entry.id, object: objectName(entry), restored: 0, left: entry.rows, message: `${qualifiedName(entry.schema, entry.table)} was not made again; ${entry.rows} rows stay in stash ${entry.id}` }, error: null, blocked: 0 };
  }
  return entry.kind === 'table' ? restoreTable(client, entry, relationOf(entry), live, options) : restoreColumn(client, entry, relationOf(entry), live, options);
}
