/**
 * What every stash restore does the same way (DESIGN §13): a move of stashed rows under a savepoint
 * (undone together with the rows' leaving the stash when it fails), split down to single rows when a
 * key stops the whole; the tables' own triggers off; sequences moved past the ids that came back; keys
 * compared as values of their type.
 */
import { qualifiedName, type LiveColumn, type StashEntry, type StashRestore } from '../core/stash.js';
import { quoteIdentifier, type PgClient } from './client.js';
import { stashDataTable } from './stash.js';

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
  /**
   * Tables several entries of one restore go back into: a temp table listing the rows each held before
   * any did (the up's own). In 'replace', only those give way; a row another entry put back is kept, and
   * the stashed row under its key stays in the stash, reported (issue 25.2). Absent: every row is the up's.
   */
  readonly upRows?: ReadonlyMap<string, string>;
}

/** Whether the table's row `alias` is one the up made (there before this restore began), as `upRows` lists them. */
export function madeByUp(options: PutBackOptions, rel: string, alias = 't'): string {
  const list = options.upRows?.get(rel);
  return list ? `EXISTS (SELECT 1 FROM ${list} AS u WHERE u.rel_oid = ${alias}.tableoid AND u.row_tid = ${alias}.ctid)` : 'true';
}

/**
 * Keep mode: of the stashed rows that stayed because the table's row under their key (`clash`, alias
 * t) has what they would put there, how many clash with a row another entry put back in this restore
 * (not there before it began) rather than one of the user's. 0 when only one entry goes into the table.
 */
export async function clashesWithOtherEntries(client: PgClient, options: PutBackOptions, rel: string, data: string, stayed: string, clash: string): Promise<number> {
  if (!options.upRows?.has(rel)) return 0;
  const row = (await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${data} AS s WHERE ${stayed} AND EXISTS (SELECT 1 FROM ${rel} AS t WHERE ${clash} AND NOT ${madeByUp(options, rel)})`)).rows[0];
  return Number(row?.n ?? 0);
}

/** How the stashed rows that stayed for a key clash are said: the user's rows, and the rows another entry put back. */
export function clashParts(count: number, byOthers: number, entryId: number, options: PutBackOptions, yours: string, others: string): string[] {
  if (options.keyClash !== 'keep') return [`${count} stay in stash ${entryId}: ${others}`];
  const parts = count - byOthers > 0 ? [`${count - byOthers} stay in stash ${entryId}: ${yours}`] : [];
  if (byOthers > 0) parts.push(`${byOthers} stay in stash ${entryId}: ${others}`);
  return parts;
}

/** One entry's restore: what it did, and (when nothing went back) the error that stopped it. */
export interface PutBackOutcome {
  readonly result: StashRestore;
  /** What stopped the rows that stayed (a key, a constraint); null when none stayed for an error. */
  readonly error: PgError | null;
  /** How many rows (or values) stayed because of `error`. */
  readonly blocked: number;
}

/** A stashed text as the column's type, unmodified: varchar(4) then raises on a longer value, where an explicit cast would cut it. */
export const asColumnType = (expression: string, column: LiveColumn) => `${expression}::${column.baseType ?? column.type}`;

/**
 * Stashed keys compared as values of the key's type, never as text: the text of a timestamptz, an
 * interval or a float depends on the session (TimeZone, IntervalStyle, extra_float_digits).
 */
export function sameKey(keys: readonly string[], live: readonly LiveColumn[], table: string, stashed: string): string {
  return keys.map((k) => {
    const column = live.find((c) => c.name === k);
    const name = quoteIdentifier(k);
    return column ? `${table}.${name} = ${asColumnType(`${stashed}.${name}`, column)}` : `${table}.${name}::text = ${stashed}.${name}`;
  }).join(' AND ');
}

/** Whether a stashed text parses as the column's type, modifiers included (PostgreSQL 16's pg_input_is_valid). */
export const fitsType = (client: PgClient, expression: string, column: LiveColumn) => `pg_input_is_valid(${expression}, ${client.escapeLiteral(column.type)})`;

export const objectName = (entry: StashEntry) => `${entry.kind} ${qualifiedName(entry.schema, entry.table, entry.column)}`;
export const relationOf = (entry: StashEntry) => `${quoteIdentifier(entry.schema)}.${quoteIdentifier(entry.table)}`;
export const isIntegrity = (error: PgError) => error.code?.startsWith('23') === true;
export const isDataError = (error: PgError) => error.code?.startsWith('22') === true || error.code === '42804';

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
 * Serial and identity columns: their sequences must pass the ids that came back — and the ids still
 * waiting in the stash (`stashed`), or the table hands one of those out and the stashed row can never
 * go back — and never move back (a restore of ids 1–3 into a table whose sequence is at 5 leaves it at
 * 5). A partition's column draws from its partitioned parent's sequence: that one is moved, past the
 * whole table's ids.
 */
export async function advanceSequences(client: PgClient, rel: string, stashed: string | null = null): Promise<void> {
  const root = (await client.query<{ root: string | null }>('SELECT pg_partition_root($1::regclass)::text AS root', [rel])).rows[0]?.root ?? null;
  const owner = root ?? rel;
  const sequences = await client.query<{ col: string; seq: string; waiting: boolean }>(
    `SELECT attname AS col, pg_get_serial_sequence($1, attname) AS seq,
       EXISTS (SELECT 1 FROM pg_attribute s WHERE s.attrelid = to_regclass($2) AND s.attname = a.attname AND NOT s.attisdropped) AS waiting
     FROM pg_attribute a
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND pg_get_serial_sequence($1, attname) IS NOT NULL`, [owner, stashed]);
  for (const { col, seq, waiting } of sequences.rows) {
    // The stash holds values as text: only those that read as an id count (a cast of anything else would fail the restore).
    const value = `(${quoteIdentifier(col)})::text`;
    const inStash = waiting && stashed !== null ? `, (SELECT max(${value}::bigint) FROM ${stashed} WHERE ${value} ~ '^-?[0-9]{1,18}$')` : '';
    await client.query(
      `SELECT setval($1, m) FROM (SELECT GREATEST((SELECT max(${quoteIdentifier(col)})::bigint FROM ${owner})${inStash}) AS m) x
       WHERE m IS NOT NULL AND m > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${seq})`, [seq]);
  }
}

export interface Moved { picked: number; applied: number; replaced: number }
export type Move = (where: string, params: unknown[]) => Promise<Moved>;
export const NOTHING_MOVED: Moved = { picked: 0, applied: 0, replaced: 0 };

/** Moves every row matching `where` in one statement, or none. */
export async function moveAll(client: PgClient, where: string, move: Move): Promise<{ moved: Moved; error: PgError | null }> {
  const whole = await contained(client, () => move(where, []));
  return 'ok' in whole ? { moved: whole.ok, error: null } : { moved: NOTHING_MOVED, error: whole.error };
}

/**
 * After the whole failed on a key or constraint: moves what can go, splitting the rows (by ctid) in
 * halves down to single ones, so k rows that cannot go cost about k·log n tries. Returns the first error.
 */
export async function moveEachThatFits(client: PgClient, id: number, where: string, move: Move): Promise<{ moved: Moved; error: PgError | null }> {
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

/**
 * After the whole failed on a key or constraint, what fits goes row by row. A foreign key alone waits
 * for its parent's entry first (the caller's rounds, then rowByRow); inside a group nothing is split.
 */
export async function splitIfStopped(
  client: PgClient, id: number, where: string, move: Move, outcome: { moved: Moved; error: PgError | null }, options: PutBackOptions,
): Promise<{ moved: Moved; error: PgError | null }> {
  const { error } = outcome;
  const split = error !== null && isIntegrity(error) && options.alone && (options.rowByRow || error.code !== '23503');
  return split ? moveEachThatFits(client, id, where, move) : outcome;
}

/** Alone, an entry turns its table's triggers off itself; in a group, the group has. */
export const asRestore = <T>(client: PgClient, rel: string, options: PutBackOptions, work: () => Promise<T>): Promise<T> =>
  (options.alone ? withoutUserTriggers(client, [rel], work) : work());
