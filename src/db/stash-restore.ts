/**
 * Putting stashed rows back when their migration (same version, same up sha256) is applied again
 * (DESIGN §13), inside that migration's transaction. Each stash entry is restored under its own
 * savepoint: what fits goes back, what does not is reported and stays in the stash, and the migrate
 * is never stopped half way by it.
 */
import { qualifiedName, restorableColumns, type LiveColumn, type StashEntry, type StashRestore } from '../core/stash.js';
import { quoteIdentifier, relationExists, serverMajorVersion, type PgClient } from './client.js';
import { ROW_CHECK_COLUMN, rowFingerprint, STASH_TABLE, stashDataTable } from './stash.js';

interface StashRow {
  id: string; version: string; up_sha256: string | null; kind: 'table' | 'column'; schema_name: string; table_name: string;
  column_name: string | null; key_columns: string[]; row_count: string; bytes: string; created_at: Date; note: string | null; row_check: string[] | null;
}

const toEntry = (r: StashRow): StashEntry => ({
  id: Number(r.id), version: BigInt(r.version), upSha256: r.up_sha256, kind: r.kind, schema: r.schema_name, table: r.table_name, column: r.column_name,
  keyColumns: r.key_columns, rowCheck: r.row_check ?? null, rows: Number(r.row_count), bytes: Number(r.bytes), createdAt: r.created_at.toISOString(), note: r.note,
});

const stashExists = (client: PgClient) => relationExists(client, STASH_TABLE);

export async function listStash(client: PgClient): Promise<StashEntry[]> {
  if (!(await stashExists(client))) return [];
  return (await client.query<StashRow>(`SELECT * FROM ${STASH_TABLE} ORDER BY id`)).rows.map(toEntry);
}

/** The (version, up sha256) pairs that have something to restore, read once per migrate run. */
export async function stashKeys(client: PgClient): Promise<Set<string>> {
  if (!(await stashExists(client))) return new Set();
  const rows = await client.query<{ k: string }>(`SELECT DISTINCT version::text || ':' || COALESCE(up_sha256, '') AS k FROM ${STASH_TABLE} WHERE note IS NULL`);
  return new Set(rows.rows.map((r) => r.k));
}

export const stashKey = (version: bigint, upSha256: string | null) => `${version}:${upSha256 ?? ''}`;

export async function dropStashEntries(client: PgClient, ids: readonly number[]): Promise<void> {
  for (const id of ids) {
    await client.query(`DROP TABLE IF EXISTS ${stashDataTable(id)}`);
    await client.query(`DELETE FROM ${STASH_TABLE} WHERE id = $1`, [id]);
  }
}

const objectName = (entry: StashEntry) => `${entry.kind} ${qualifiedName(entry.schema, entry.table, entry.column)}`;

async function liveColumns(client: PgClient, entry: StashEntry): Promise<LiveColumn[] | null> {
  const rel = `${quoteIdentifier(entry.schema)}.${quoteIdentifier(entry.table)}`;
  if (!(await relationExists(client, rel))) return null;
  const result = await client.query<{ name: string; type: string; generated: boolean; notNull: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attgenerated <> '' AS generated, attnotnull AS "notNull"
     FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [rel]);
  return result.rows;
}

async function stashedColumns(client: PgClient, id: number): Promise<string[]> {
  const result = await client.query<{ name: string }>(`SELECT attname AS name FROM pg_attribute WHERE attrelid = '${stashDataTable(id)}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`);
  return result.rows.map((r) => r.name);
}

/** Runs `work` under a savepoint; a failure is undone and returned instead of thrown. */
async function contained<T>(client: PgClient, work: () => Promise<T>): Promise<{ ok: T } | { error: Error & { code?: string } }> {
  await client.query('SAVEPOINT dbguard_restore');
  try {
    const ok = await work();
    await client.query('RELEASE SAVEPOINT dbguard_restore');
    return { ok };
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT dbguard_restore');
    await client.query('RELEASE SAVEPOINT dbguard_restore');
    return { error: error as Error & { code?: string } };
  }
}

/** Columns whose stashed values do not all cast to the re-created column's type. */
async function unfitColumns(client: PgClient, id: number, use: readonly LiveColumn[]): Promise<Set<string>> {
  const unfit = new Set<string>();
  for (const column of use) {
    const cast = await contained(client, () => client.query(`SELECT count(${quoteIdentifier(column.name)}::${column.type}) FROM ${stashDataTable(id)}`));
    if ('error' in cast) unfit.add(column.name);
  }
  return unfit;
}

/**
 * How a stashed value goes back into a column whose type changed: value by value where the server
 * can tell which fit (PostgreSQL 16's pg_input_is_valid): a value that does not fit becomes NULL in
 * a nullable column, and keeps its row in the stash in a NOT NULL one. Older servers leave the column out.
 */
function fitting(client: PgClient, column: LiveColumn, perValue: boolean): { value: string | null; rowFilter: string | null } {
  const name = quoteIdentifier(column.name);
  if (!perValue) return { value: null, rowFilter: null };
  const valid = `(${name} IS NULL OR pg_input_is_valid(${name}::text, ${client.escapeLiteral(column.type)}))`;
  return { value: `CASE WHEN ${valid} THEN ${name}::text::${column.type} END`, rowFilter: column.notNull ? valid : null };
}


/**
 * Serial and identity columns: their sequences must pass the ids that came back, and never move back
 * (a restore of ids 1–3 into a table whose sequence is at 5 leaves it at 5). A partition's column
 * draws from its partitioned parent's sequence: that one is moved, past the whole table's ids.
 */
async function advanceSequences(client: PgClient, rel: string): Promise<void> {
  const root = (await client.query<{ root: string | null }>('SELECT pg_partition_root($1::regclass)::text AS root', [rel])).rows[0]?.root ?? null;
  const owner = root ?? rel;
  const sequences = await client.query<{ col: string; seq: string }>(
    `SELECT attname AS col, pg_get_serial_sequence($1, attname) AS seq FROM pg_attribute
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND pg_get_serial_sequence($1, attname) IS NOT NULL`, [owner]);
  for (const { col, seq } of sequences.rows) {
    await client.query(
      `SELECT setval($1, m) FROM (SELECT max(${quoteIdentifier(col)})::bigint AS m FROM ${owner}) x
       WHERE m IS NOT NULL AND m > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${seq})`, [seq]);
  }
}

/**
 * §13: a restore puts back what was there; it is not an edit, so the table's own triggers do not run
 * (a BEFORE UPDATE that stamps updated_at would rewrite the restored rows). Foreign keys, which are
 * internal triggers, still hold. Only triggers that were enabled are turned off, and back on after.
 */
async function withoutUserTriggers<T>(client: PgClient, rel: string, work: () => Promise<T>): Promise<T> {
  const enabled = (await client.query<{ name: string }>(`SELECT tgname AS name FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled <> 'D'`, [rel])).rows.map((r) => r.name);
  for (const name of enabled) await client.query(`ALTER TABLE ${rel} DISABLE TRIGGER ${quoteIdentifier(name)}`);
  try {
    const result = await work();
    // A deferred foreign key is checked here, inside the restore's savepoint, not at the migration's COMMIT.
    await client.query('SET CONSTRAINTS ALL IMMEDIATE');
    return result;
  } finally {
    for (const name of enabled) await client.query(`ALTER TABLE ${rel} ENABLE TRIGGER ${quoteIdentifier(name)}`).catch(() => undefined);
  }
}

async function primaryKeyOf(client: PgClient, rel: string): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`, [rel]);
  return result.rows.map((r) => r.name);
}

async function restoreTable(client: PgClient, entry: StashEntry, rel: string, live: LiveColumn[]): Promise<StashRestore> {
  const object = objectName(entry);
  const { use: shared, missing } = restorableColumns(await stashedColumns(client, entry.id), live);
  const unfit = await unfitColumns(client, entry.id, shared);
  const perValue = unfit.size > 0 && (await serverMajorVersion(client)) >= 16;
  const columns: string[] = [];
  const values: string[] = [];
  const filters: string[] = [];
  for (const column of shared) {
    if (!unfit.has(column.name)) {
      columns.push(quoteIdentifier(column.name));
      values.push(`${quoteIdentifier(column.name)}::${column.type}`);
      continue;
    }
    const fit = fitting(client, column, perValue);
    if (fit.value === null) {
      missing.push(column.name);
      continue;
    }
    columns.push(quoteIdentifier(column.name));
    values.push(fit.value);
    if (fit.rowFilter) filters.push(fit.rowFilter);
  }
  const where = filters.length > 0 ? ` WHERE ${filters.join(' AND ')}` : '';
  // A row the up made again under the same key (seeded) is the up's default; the stashed one is what the
  // user had made of it: it wins (§13, same up sha256). Without a primary key nothing can clash by key.
  const key = await primaryKeyOf(client, rel);
  const keyed = key.length > 0 && key.every((k) => columns.includes(quoteIdentifier(k)));
  const others = columns.filter((c) => !key.map(quoteIdentifier).includes(c));
  const onConflict = keyed && others.length > 0
    ? ` ON CONFLICT (${key.map(quoteIdentifier).join(', ')}) DO UPDATE SET ${others.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`
    : ' ON CONFLICT DO NOTHING';
  const counted = await contained(client, () => withoutUserTriggers(client, rel, async () => (await client.query<{ total: string; replaced: string }>(
    `WITH put AS (INSERT INTO ${rel} (${columns.join(', ')}) OVERRIDING SYSTEM VALUE SELECT ${values.join(', ')} FROM ${stashDataTable(entry.id)}${where}${onConflict}
       RETURNING (xmax::text <> '0') AS replaced)
     SELECT count(*)::text AS total, count(*) FILTER (WHERE replaced)::text AS replaced FROM put`)).rows[0]));
  const inserted = 'error' in counted ? counted : { ok: Number(counted.ok?.total ?? 0) };
  const replaced = 'error' in counted ? 0 : Number(counted.ok?.replaced ?? 0);
  if ('error' in inserted) {
    return { id: entry.id, object, restored: 0, left: entry.rows, message: `${object}: none of its ${entry.rows} rows could be put back (${inserted.error.message}); they stay in stash ${entry.id}` };
  }
  await advanceSequences(client, rel);
  const notFitting = where === '' ? 0 : Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${stashDataTable(entry.id)} WHERE NOT (${filters.join(' AND ')})`)).rows[0]?.n ?? 0);
  const skipped = entry.rows - inserted.ok - notFitting;
  const parts = [`${object}: ${inserted.ok} of ${entry.rows} rows put back`];
  if (replaced > 0) parts.push(`${replaced} of them over the rows the up made again under the same key`);
  if (skipped > 0) parts.push(`${skipped} already there (same key)`);
  if (unfit.size > 0 && perValue) parts.push(`values of ${[...unfit].join(', ')} that do not fit the column's new type ${notFitting > 0 ? `kept ${notFitting} rows in stash ${entry.id}` : 'were left NULL (kept in the stash)'}`);
  if (missing.length > 0) parts.push(`columns not restored: ${missing.join(', ')} (gone, or a type their values do not cast to); kept in stash ${entry.id}`);
  const partial = missing.length > 0 || unfit.size > 0;
  return { id: entry.id, object, restored: inserted.ok, left: partial ? entry.rows - inserted.ok + (unfit.size > 0 ? inserted.ok : 0) : 0, message: parts.join('; ') };
}

async function restoreColumn(client: PgClient, entry: StashEntry, rel: string, live: LiveColumn[]): Promise<StashRestore> {
  const object = objectName(entry);
  const column = live.find((c) => c.name === entry.column);
  if (!column) return { id: entry.id, object, restored: 0, left: entry.rows, message: `${object}: the column was not made again; its ${entry.rows} values stay in stash ${entry.id}` };
  if (entry.keyColumns.length === 0 || entry.keyColumns.some((k) => !live.some((c) => c.name === k))) {
    return { id: entry.id, object, restored: 0, left: entry.rows, message: `${object}: ${entry.table} had no primary key to match rows by; its ${entry.rows} values stay in stash ${entry.id}` };
  }
  // A value goes back only to the row it came from: same key, and the row's other values as they were
  // when it was stashed (a key reused by another row since does not match). Entries from before this
  // check (rowCheck null) are matched by key.
  const check = entry.rowCheck ?? null;
  const missing = check?.filter((c) => !live.some((l) => l.name === c)) ?? [];
  if (missing.length > 0) {
    return { id: entry.id, object, restored: 0, left: entry.rows, message: `${object}: ${missing.join(', ')} no longer exist${missing.length === 1 ? 's' : ''}, so the rows its values came from cannot be told apart; they stay in stash ${entry.id} (dbguard stash list)` };
  }
  const byKey = entry.keyColumns.map((k) => `t.${quoteIdentifier(k)}::text = s.${quoteIdentifier(k)}::text`).join(' AND ');
  const sameRow = check ? `${byKey} AND ${rowFingerprint(check, 't.')} = s.${ROW_CHECK_COLUMN}` : byKey;
  const name = quoteIdentifier(column.name);
  const update = (extra: string) => contained(client, () => withoutUserTriggers(client, rel, async () => (await client.query(
    `UPDATE ${rel} AS t SET ${name} = s.${name}::text::${column.type} FROM ${stashDataTable(entry.id)} AS s WHERE ${sameRow}${extra}`)).rowCount ?? 0));
  let updated = await update('');
  let unfit = 0;
  if ('error' in updated && (await serverMajorVersion(client)) >= 16) {
    // Some values do not fit a changed type: put back those that do, keep the rest in the stash.
    updated = await update(` AND pg_input_is_valid(s.${name}::text, ${client.escapeLiteral(column.type)})`);
    unfit = Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${stashDataTable(entry.id)} AS s WHERE NOT pg_input_is_valid(s.${name}::text, ${client.escapeLiteral(column.type)})`)).rows[0]?.n ?? 0);
  }
  if ('error' in updated) {
    return { id: entry.id, object, restored: 0, left: entry.rows, message: `${object}: its ${entry.rows} values could not be put back (${updated.error.message}); they stay in stash ${entry.id}` };
  }
  const changed = check ? Number((await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${stashDataTable(entry.id)} AS s JOIN ${rel} AS t ON ${byKey} WHERE ${rowFingerprint(check, 't.')} <> s.${ROW_CHECK_COLUMN}`)).rows[0]?.n ?? 0) : 0;
  const gone = entry.rows - updated.ok - unfit - changed;
  const parts = [`${object}: ${updated.ok} values put back`];
  if (gone > 0) parts.push(`${gone} belonged to rows deleted since`);
  if (changed > 0) parts.push(`${changed} stay in stash ${entry.id}: their rows' other values changed since (another row under the same key?)`);
  if (unfit > 0) parts.push(`${unfit} do not fit the column's new type ${column.type} and stay in stash ${entry.id}`);
  return { id: entry.id, object, restored: updated.ok, left: unfit + changed, message: parts.join('; ') };
}

/**
 * Restores every stash entry of a migration applied again, inside the open transaction. Entries fully
 * restored are dropped; the others stay, with a note, and are not tried again (`dbguard stash list`).
 * Tables go back in an order their foreign keys accept: a failed one is retried after the others.
 */
export async function restoreStash(client: PgClient, version: bigint, upSha256: string | null): Promise<StashRestore[]> {
  if (!(await stashExists(client))) return [];
  const entries = (await client.query<StashRow>(`SELECT * FROM ${STASH_TABLE} WHERE version = $1 AND up_sha256 IS NOT DISTINCT FROM $2 AND note IS NULL ORDER BY kind DESC, id`, [version.toString(), upSha256]))
    .rows.map(toEntry);
  const results: StashRestore[] = [];
  let waiting = entries;
  for (let round = 0; waiting.length > 0 && round <= entries.length; round++) {
    const next: StashEntry[] = [];
    for (const entry of waiting) {
      const rel = `${quoteIdentifier(entry.schema)}.${quoteIdentifier(entry.table)}`;
      const live = await liveColumns(client, entry);
      const result: StashRestore = live === null
        ? { id: entry.id, object: objectName(entry), restored: 0, left: entry.rows, message: `${qualifiedName(entry.schema, entry.table)} was not made again; ${entry.rows} rows stay in stash ${entry.id}` }
        : entry.kind === 'table' ? await restoreTable(client, entry, rel, live) : await restoreColumn(client, entry, rel, live);
      const blockedByKey = result.restored === 0 && /foreign key/i.test(result.message);
      if (blockedByKey && round < entries.length) next.push(entry);
      else results.push(result);
    }
    if (next.length === waiting.length) {
      for (const entry of next) results.push({ id: entry.id, object: objectName(entry), restored: 0, left: entry.rows, message: `${qualifiedName(entry.schema, entry.table)}: its rows reference rows that are gone (foreign key); they stay in stash ${entry.id}` });
      break;
    }
    waiting = next;
  }
  await dropStashEntries(client, results.filter((r) => r.left === 0).map((r) => r.id));
  for (const r of results.filter((x) => x.left > 0)) await client.query(`UPDATE ${STASH_TABLE} SET note = $2 WHERE id = $1`, [r.id, r.message]);
  return results;
}
