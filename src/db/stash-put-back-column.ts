/**
 * Putting a dropped column's stashed values back (DESIGN §13): each only to the row it came from — the
 * same key, compared as a value, and the row's other values as they were when it was stashed.
 */
import { byHand, type LiveColumn, type StashEntry } from '../core/stash.js';
import { quoteIdentifier, relationExists, serverMajorVersion, type PgClient } from './client.js';
import { ROW_CHECK_COLUMN, rowFingerprint, STASH_TABLE, stashDataTable } from './stash.js';
import { asColumnType, asRestore, checkDeferredNow, clashesWithOtherEntries, clashParts, contained, fitsType, madeByUp, moveAll, objectName, sameKey, splitIfStopped, type Move, type PutBackOptions, type PutBackOutcome } from './stash-moves.js';

export async function restoreColumn(client: PgClient, entry: StashEntry, rel: string, live: LiveColumn[], options: PutBackOptions): Promise<PutBackOutcome> {
  const object = objectName(entry);
  const unchanged = (message: string): PutBackOutcome => ({ result: { id: entry.id, object, restored: 0, left: entry.rows, message }, error: null, blocked: 0 });
  const column = live.find((c) => c.name === entry.column);
  if (!column) return unchanged(`${object}: the column was not made again; its ${entry.rows} values stay in stash ${entry.id}`);
  if (entry.keyColumns.length === 0 || entry.keyColumns.some((k) => !live.some((c) => c.name === k))) {
    return unchanged(`${object}: ${entry.table} had no primary key to match rows by; its ${entry.rows} values stay in stash ${entry.id} (${byHand(entry.id)})`);
  }
  // A value goes back only to the row it came from: same key, and the row's other values as they were
  // when it was stashed (a key reused by another row since does not match). Entries from before this
  // check (rowCheck null) are matched by key.
  const check = entry.rowCheck ?? null;
  const missing = check?.filter((c) => !live.some((l) => l.name === c)) ?? [];
  if (missing.length > 0) {
    return unchanged(`${object}: ${missing.join(', ')} no longer exist${missing.length === 1 ? 's' : ''}, so the rows its values came from cannot be told apart; they stay in stash ${entry.id} (${byHand(entry.id)})`);
  }
  const data = stashDataTable(entry.id);
  const byKey = (other: string) => sameKey(entry.keyColumns, live, 't', other);
  const name = quoteIdentifier(column.name);
  const sameRow = `EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${byKey('s')}${check ? ` AND ${rowFingerprint(check, 't.')} = s.${ROW_CHECK_COLUMN}` : ''})`;
  // A later restore by hand fills only an empty value: one the user has entered since is theirs. Right
  // after the up, a value replaces the up's, but not one another entry of the same migration put back.
  const free = options.keyClash === 'keep' ? `EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${byKey('s')} AND t.${name} IS NULL)`
    : options.upRows?.has(rel) ? `EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${byKey('s')} AND ${madeByUp(options, rel)})` : 'true';
  const perValue = (await serverMajorVersion(client)) >= 16;
  const fits = perValue ? `(s.${name} IS NULL OR ${fitsType(client, `s.${name}`, column)})` : 'true';
  const move: Move = async (where, params) => {
    const applied = (await client.query(`WITH picked AS (DELETE FROM ${data} AS s WHERE ${where} RETURNING s.*)
      UPDATE ${rel} AS t SET ${name} = ${asColumnType(`p.${name}`, column)} FROM picked AS p WHERE ${byKey('p')}`, params)).rowCount ?? 0;
    if (options.alone) await checkDeferredNow(client);
    return { picked: applied, applied, replaced: 0 };
  };
  const where = `${sameRow} AND ${fits} AND ${free}`;
  const { moved, error } = await asRestore(client, rel, options, async () => splitIfStopped(client, entry.id, where, move, await moveAll(client, where, move), options));
  // A value that stayed while its row holds that very value is there already.
  const same = await contained(client, () => client.query(`DELETE FROM ${data} AS s WHERE ${sameRow} AND ${fits} AND NOT ${free}
    AND EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${byKey('s')} AND t.${name} IS NOT DISTINCT FROM ${asColumnType(`s.${name}`, column)})`));
  const already = 'ok' in same ? same.ok.rowCount ?? 0 : 0;
  // A value whose row was deleted since has nowhere to go: it goes with its row, as the row's other
  // values did. Not while the table's own rows still wait in the stash: its row may be one of them.
  const rowsWaiting = await tableRowsWaiting(client, entry);
  const gone = rowsWaiting ? 0 : (await client.query(`DELETE FROM ${data} AS s WHERE NOT EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${byKey('s')})`)).rowCount ?? 0;
  const counts = (await client.query<{ missing: string; changed: string; unfit: string; taken: string; left: string }>(
    `SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${byKey('s')}))::text AS missing,
       count(*) FILTER (WHERE NOT ${sameRow})::text AS changed, count(*) FILTER (WHERE ${sameRow} AND NOT ${fits})::text AS unfit,
       count(*) FILTER (WHERE ${sameRow} AND ${fits} AND NOT ${free})::text AS taken, count(*)::text AS left FROM ${data} AS s`)).rows[0];
  const [missingRows, unfit, taken, left] = [Number(counts?.missing ?? 0), Number(counts?.unfit ?? 0), Number(counts?.taken ?? 0), Number(counts?.left ?? 0)];
  const changed = Number(counts?.changed ?? 0) - missingRows;
  const parts = [`${object}: ${moved.applied} values put back`];
  if (already > 0) parts.push(`${already} already there (the same value)`);
  if (gone > 0) parts.push(`${gone} belonged to rows deleted since`);
  if (missingRows > 0) parts.push(`${missingRows} belong to rows that are not in the table, some of them still in the stash; kept in stash ${entry.id}`);
  if (taken > 0) {
    const byOthers = options.keyClash === 'keep' ? await clashesWithOtherEntries(client, options, rel, data, `${sameRow} AND ${fits} AND NOT ${free}`, `${byKey('s')} AND t.${name} IS NOT NULL`) : 0;
    parts.push(...clashParts(taken, byOthers, entry.id, options, 'their rows have a value there now (yours, kept)', `another stash entry${options.keyClash === 'keep' ? '' : ' of this migration'} put back a different value there (kept)`));
  }
  if (changed > 0) parts.push(`${changed} stay in stash ${entry.id}: their rows' other values changed since (another row under the same key?), so only you can tell where they go: ${byHand(entry.id)}`);
  if (unfit > 0) parts.push(`${unfit} do not fit the column's new type ${column.type} and stay in stash ${entry.id}`);
  const blocked = error ? left - changed - unfit - taken - missingRows : 0;
  return { result: { id: entry.id, object, restored: moved.applied, left, message: parts.join('; ') }, error: blocked > 0 ? error : null, blocked };
}

/** Whether another stash entry still holds rows of this entry's table (a table entry not, or not fully, put back). */
async function tableRowsWaiting(client: PgClient, entry: StashEntry): Promise<boolean> {
  const others = await client.query<{ id: string }>(`SELECT id::text FROM ${STASH_TABLE} WHERE kind = 'table' AND schema_name = $1 AND table_name = $2 AND id <> $3`, [entry.schema, entry.table, entry.id]);
  for (const { id } of others.rows) {
    const data = stashDataTable(Number(id));
    if ((await relationExists(client, data)) && (await client.query(`SELECT 1 FROM ${data} LIMIT 1`)).rowCount) return true;
  }
  return false;
}
