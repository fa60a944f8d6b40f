/**
 * Putting one stash entry's rows (or column values) back into the table the up made again (DESIGN
 * §13). Rows move in one statement: `DELETE … RETURNING` from the stash feeds the INSERT (or UPDATE),
 * so what went back leaves the stash and what did not stays, under a savepoint that undoes both
 * together. The whole entry is tried in one statement; only when that fails is it split, so a wide
 * table costs what its rollback cost, and a child row whose parent exists goes back while the others wait.
 */
import { qualifiedName, restorableColumns, type LiveColumn, type StashEntry, type StashRestore } from '../core/stash.js';
import { quoteIdentifier, relationExists, serverMajorVersion, type PgClient } from './client.js';
import { ROW_CHECK_COLUMN, rowFingerprint, stashDataTable } from './stash.js';

/** Set on stashed rows that went back without all their values (a column gone or a value that does not fit): kept, not put back twice. */
export const RESTORED_MARK = 'dbguard_restored';

export type PgError = Error & { code?: string; constraint?: string; table?: string; schema?: string };

/** How clashing keys are treated: right after the up, its seeded row is replaced; in a later `stash restore`, the table's row is kept. */
export type KeyClash = 'replace' | 'keep';

export interface PutBackOptions {
  readonly keyClash: KeyClash;
  /** Split the entry down to single rows when the whole does not go in. */
  readonly rowByRow: boolean;
  /** False inside a group restore: the group turns triggers off and checks deferred keys once, at its end. */
  readonly alone: boolean;
  /** False for a dry run: a sequence's setval is not undone by the ROLLBACK that undoes the rows. */
  readonly moveSequences: boolean;
}

/** One entry's restore: what it did, and (when nothing went back) the error that stopped it. */
export interface PutBackOutcome {
  readonly result: StashRestore;
  /** What stopped the rows that stayed (a key, a constraint); null when none stayed for an error. */
  readonly error: PgError | null;
  /** How many rows (or values) stayed because of `error`. */
  readonly blocked: number;
}

const objectName = (entry: StashEntry) => `${entry.kind} ${qualifiedName(entry.schema, entry.table, entry.column)}`;
export const relationOf = (entry: StashEntry) => `${quoteIdentifier(entry.schema)}.${quoteIdentifier(entry.table)}`;
const isIntegrity = (error: PgError) => error.code?.startsWith('23') === true;
const isDataError = (error: PgError) => error.code?.startsWith('22') === true || error.code === '42804';

export async function liveColumns(client: PgClient, entry: StashEntry): Promise<LiveColumn[] | null> {
  const rel = relationOf(entry);
  if (!(await relationExists(client, rel))) return null;
  const result = await client.query<{ name: string; type: string; generated: boolean; notNull: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attgenerated <> '' AS generated, attnotnull AS "notNull"
     FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [rel]);
  return result.rows;
}

async function stashedColumns(client: PgClient, id: number): Promise<{ names: string[]; marked: boolean }> {
  const result = await client.query<{ name: string }>(`SELECT attname AS name FROM pg_attribute WHERE attrelid = '${stashDataTable(id)}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`);
  const names = result.rows.map((r) => r.name);
  return { names: names.filter((n) => n !== RESTORED_MARK && n !== ROW_CHECK_COLUMN), marked: names.includes(RESTORED_MARK) };
}

/** Runs `work` under a savepoint; a failure is undone and returned instead of thrown. */
export async function contained<T>(client: PgClient, work: () => Promise<T>): Promise<{ ok: T } | { error: PgError }> {
  await client.query('SAVEPOINT dbguard_restore');
  try {
    const ok = await work();
    await client.query('RELEASE SAVEPOINT dbguard_restore');
    return { ok };
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT dbguard_restore');
    await client.query('RELEASE SAVEPOINT dbguard_restore');
    return { error: error as PgError };
  }
}

/**
 * §13: a restore puts back what was there; it is not an edit, so the tables' own triggers do not run
 * (a BEFORE UPDATE that stamps updated_at would rewrite the restored rows). Foreign keys, which are
 * internal triggers, still hold. Only triggers that were enabled are turned off, and back on after.
 */
export async function withoutUserTriggers<T>(client: PgClient, rels: readonly string[], work: () => Promise<T>): Promise<T> {
  const enabled: Array<{ rel: string; name: string }> = [];
  for (const rel of rels) {
    const names = (await client.query<{ name: string }>(`SELECT tgname AS name FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled <> 'D'`, [rel])).rows;
    for (const { name } of names) {
      await client.query(`ALTER TABLE ${rel} DISABLE TRIGGER ${quoteIdentifier(name)}`);
      enabled.push({ rel, name });
    }
  }
  try {
    return await work();
  } finally {
    for (const { rel, name } of enabled) await client.query(`ALTER TABLE ${rel} ENABLE TRIGGER ${quoteIdentifier(name)}`).catch(() => undefined);
  }
}

/** A deferred foreign key is checked here, inside the restore's savepoint, not at the migration's COMMIT. */
export const checkDeferredNow = (client: PgClient) => client.query('SET CONSTRAINTS ALL IMMEDIATE');

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
    const checks = use.map((c) => `bool_and(${quoteIdentifier(c.name)} IS NULL OR pg_input_is_valid(${quoteIdentifier(c.name)}, ${client.escapeLiteral(c.type)}))`);
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

interface Moved { picked: number; applied: number; replaced: number }
type Move = (where: string, params: unknown[]) => Promise<Moved>;
const NOTHING_MOVED: Moved = { picked: 0, applied: 0, replaced: 0 };

/** Moves every row matching `where` in one statement, or none. */
async function moveAll(client: PgClient, where: string, move: Move): Promise<{ moved: Moved; error: PgError | null }> {
  const whole = await contained(client, () => move(where, []));
  return 'ok' in whole ? { moved: whole.ok, error: null } : { moved: NOTHING_MOVED, error: whole.error };
}

/**
 * After the whole failed on a key or constraint: moves what can go, splitting the rows (by ctid) in
 * halves down to single ones, so k rows that cannot go cost about k·log n tries. Returns the first error.
 */
async function moveEachThatFits(client: PgClient, id: number, where: string, move: Move): Promise<{ moved: Moved; error: PgError | null }> {
  const total = { ...NOTHING_MOVED };
  let firstError: PgError | null = null;
  const ctids = (await client.query<{ t: string }>(`SELECT s.ctid::text AS t FROM ${stashDataTable(id)} AS s WHERE ${where}`)).rows.map((r) => r.t);
  const tryChunk = async (chunk: string[]): Promise<void> => {
    const attempt = await contained(client, () => move(`${where} AND s.ctid = ANY ($1::tid[])`, [chunk]));
    if ('ok' in attempt) {
      total.picked += attempt.ok.picked;
      total.applied += attempt.ok.applied;
      total.replaced += attempt.ok.replaced;
    } else if (chunk.length === 1) firstError ??= attempt.error;
    else {
      const half = Math.ceil(chunk.length / 2);
      await tryChunk(chunk.slice(0, half));
      await tryChunk(chunk.slice(half));
    }
  };
  if (ctids.length > 0) await tryChunk(ctids);
  return { moved: total, error: firstError };
}

/** The INSERT of a table entry, given which columns fit as they are (unfit: put back value by value, or left out). */
function tableStatement(client: PgClient, entry: StashEntry, rel: string, shared: readonly LiveColumn[], unfit: ReadonlySet<string>, perValue: boolean, key: readonly string[], options: PutBackOptions, marking: boolean) {
  const columns: string[] = [];
  const values: string[] = [];
  const filters: string[] = marking ? [`NOT s.${RESTORED_MARK}`] : ['true'];
  const leftOut: string[] = [];
  let nulled = false;
  for (const column of shared) {
    const name = quoteIdentifier(column.name);
    if (!unfit.has(column.name)) {
      columns.push(name);
      values.push(`${name}::${column.type}`);
      continue;
    }
    if (!perValue) {
      leftOut.push(column.name);
      continue;
    }
    // A value that does not fit becomes NULL in a nullable column (and the row keeps it in the stash), and keeps its row there in a NOT NULL one.
    const valid = (prefix: string) => `(${prefix}${name} IS NULL OR pg_input_is_valid(${prefix}${name}, ${client.escapeLiteral(column.type)}))`;
    columns.push(name);
    values.push(`CASE WHEN ${valid('')} THEN ${name}::${column.type} END`);
    if (column.notNull) filters.push(valid('s.'));
    else nulled = true;
  }
  const keyed = key.length > 0 && key.every((k) => columns.includes(quoteIdentifier(k)));
  if (options.keyClash === 'keep' && keyed) {
    filters.push(`NOT EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${key.map((k) => `t.${quoteIdentifier(k)}::text = s.${quoteIdentifier(k)}`).join(' AND ')})`);
  }
  // A row the up made again under the same key (seeded) is the up's default; the stashed one is what the
  // user had made of it: it wins (§13, same up sha256). Without a primary key nothing can clash by key.
  const others = columns.filter((c) => !key.map(quoteIdentifier).includes(c));
  const onConflict = options.keyClash === 'replace' && keyed && others.length > 0
    ? ` ON CONFLICT (${key.map(quoteIdentifier).join(', ')}) DO UPDATE SET ${others.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`
    : options.keyClash === 'replace' ? ' ON CONFLICT DO NOTHING' : '';
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
  return { sql, where, afterAll, leftOut, incomplete };
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
    const statement = tableStatement(client, entry, rel, shared, unfit, perValue, key, options, marking);
    if (!statement.incomplete || marking) return statement;
    await client.query(`ALTER TABLE ${data} ADD COLUMN IF NOT EXISTS ${RESTORED_MARK} boolean NOT NULL DEFAULT false`);
    marking = true;
    return tableStatement(client, entry, rel, shared, unfit, perValue, key, options, true);
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
    if (outcome.error && options.rowByRow && isIntegrity(outcome.error)) outcome = await moveEachThatFits(client, entry.id, statement.where, moveWith(statement.sql));
    return outcome;
  };
  const { moved, error } = options.alone ? await withoutUserTriggers(client, [rel], work) : await work();
  if (moved.applied > 0 && options.moveSequences) await advanceSequences(client, rel);
  const counts = (await client.query<{ left: string; pending: string }>(
    `SELECT count(*)::text AS left, count(*) FILTER (WHERE ${marking ? `NOT ${RESTORED_MARK}` : 'true'})::text AS pending FROM ${data}`)).rows[0];
  const [left, pending] = [Number(counts?.left ?? 0), Number(counts?.pending ?? 0)];
  const parts = [`${object}: ${moved.applied} of ${entry.rows} rows put back`];
  if (moved.replaced > 0) parts.push(`${moved.replaced} of them over the rows the up made again under the same key`);
  if (moved.picked > moved.applied) parts.push(`${moved.picked - moved.applied} already there (same key)`);
  const unfitNow = unfit.size > 0 && perValue;
  if (unfitNow) parts.push(`values of ${[...unfit].join(', ')} that do not fit the column's new type ${pending > 0 && error === null ? `kept ${pending} rows in stash ${entry.id}` : `were left NULL (kept in stash ${entry.id})`}`);
  else if (pending > 0 && error === null) parts.push(`${pending} stay in stash ${entry.id}: the table has a row under the same key now (yours, kept)`);
  const leftOut = [...missing, ...statement.leftOut];
  if (leftOut.length > 0) parts.push(`columns not restored: ${leftOut.join(', ')} (gone, or a type their values do not cast to); kept in stash ${entry.id}`);
  return { result: { id: entry.id, object, restored: moved.applied, left, message: parts.join('; ') }, error: pending > 0 ? error : null, blocked: error ? pending : 0 };
}

async function restoreColumn(client: PgClient, entry: StashEntry, rel: string, live: LiveColumn[], options: PutBackOptions): Promise<PutBackOutcome> {
  const object = objectName(entry);
  const unchanged = (message: string): PutBackOutcome => ({ result: { id: entry.id, object, restored: 0, left: entry.rows, message }, error: null, blocked: 0 });
  const column = live.find((c) => c.name === entry.column);
  if (!column) return unchanged(`${object}: the column was not made again; its ${entry.rows} values stay in stash ${entry.id}`);
  if (entry.keyColumns.length === 0 || entry.keyColumns.some((k) => !live.some((c) => c.name === k))) {
    return unchanged(`${object}: ${entry.table} had no primary key to match rows by; its ${entry.rows} values stay in stash ${entry.id}`);
  }
  // A value goes back only to the row it came from: same key, and the row's other values as they were
  // when it was stashed (a key reused by another row since does not match). Entries from before this
  // check (rowCheck null) are matched by key.
  const check = entry.rowCheck ?? null;
  const missing = check?.filter((c) => !live.some((l) => l.name === c)) ?? [];
  if (missing.length > 0) {
    return unchanged(`${object}: ${missing.join(', ')} no longer exist${missing.length === 1 ? 's' : ''}, so the rows its values came from cannot be told apart; they stay in stash ${entry.id} (dbguard stash list)`);
  }
  const data = stashDataTable(entry.id);
  const byKey = (other: string) => entry.keyColumns.map((k) => `t.${quoteIdentifier(k)}::text = ${other}.${quoteIdentifier(k)}`).join(' AND ');
  const sameRow = `EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${byKey('s')}${check ? ` AND ${rowFingerprint(check, 't.')} = s.${ROW_CHECK_COLUMN}` : ''})`;
  const name = quoteIdentifier(column.name);
  const perValue = (await serverMajorVersion(client)) >= 16;
  const fits = perValue ? `(s.${name} IS NULL OR pg_input_is_valid(s.${name}, ${client.escapeLiteral(column.type)}))` : 'true';
  const move: Move = async (where, params) => {
    const applied = (await client.query(`WITH picked AS (DELETE FROM ${data} AS s WHERE ${where} RETURNING s.*)
      UPDATE ${rel} AS t SET ${name} = p.${name}::${column.type} FROM picked AS p WHERE ${byKey('p')}`, params)).rowCount ?? 0;
    if (options.alone) await checkDeferredNow(client);
    return { picked: applied, applied, replaced: 0 };
  };
  const where = `${sameRow} AND ${fits}`;
  const work = async () => {
    const outcome = await moveAll(client, where, move);
    return outcome.error && options.rowByRow && isIntegrity(outcome.error) ? moveEachThatFits(client, entry.id, where, move) : outcome;
  };
  const { moved, error } = options.alone ? await withoutUserTriggers(client, [rel], work) : await work();
  // A value whose row was deleted since has nowhere to go: it goes with its row, as the row's other values did.
  const gone = (await client.query(`DELETE FROM ${data} AS s WHERE NOT EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${byKey('s')})`)).rowCount ?? 0;
  const counts = (await client.query<{ changed: string; unfit: string; left: string }>(
    `SELECT count(*) FILTER (WHERE NOT ${sameRow})::text AS changed, count(*) FILTER (WHERE ${sameRow} AND NOT ${fits})::text AS unfit, count(*)::text AS left FROM ${data} AS s`)).rows[0];
  const [changed, unfit, left] = [Number(counts?.changed ?? 0), Number(counts?.unfit ?? 0), Number(counts?.left ?? 0)];
  const parts = [`${object}: ${moved.applied} values put back`];
  if (gone > 0) parts.push(`${gone} belonged to rows deleted since`);
  if (changed > 0) parts.push(`${changed} stay in stash ${entry.id}: their rows' other values changed since (another row under the same key?)`);
  if (unfit > 0) parts.push(`${unfit} do not fit the column's new type ${column.type} and stay in stash ${entry.id}`);
  const blocked = error ? left - changed - unfit : 0;
  return { result: { id: entry.id, object, restored: moved.applied, left, message: parts.join('; ') }, error: blocked > 0 ? error : null, blocked };
}

/** Restores one entry into its table, if the table is there again. */
export async function putBack(client: PgClient, entry: StashEntry, options: PutBackOptions): Promise<PutBackOutcome> {
  const live = await liveColumns(client, entry);
  if (live === null) {
    return { result: { id: entry.id, object: objectName(entry), restored: 0, left: entry.rows, message: `${qualifiedName(entry.schema, entry.table)} was not made again; ${entry.rows} rows stay in stash ${entry.id}` }, error: null, blocked: 0 };
  }
  return entry.kind === 'table' ? restoreTable(client, entry, relationOf(entry), live, options) : restoreColumn(client, entry, relationOf(entry), live, options);
}
