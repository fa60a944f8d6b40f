/**
 * The stash's entries, and restoring them (DESIGN §13): when their migration (same version, same up
 * sha256) is applied again, inside that migration's transaction, or when asked (`dbguard stash
 * restore`). What fits goes back, what does not is reported and stays in the stash, and the migrate
 * is never stopped half way by it.
 */
import { qualifiedName, type StashEntry, type StashRestore } from '../core/stash.js';
import { relationExists, type PgClient } from './client.js';
import { STASH_TABLE, stashDataTable } from './stash.js';
import { checkDeferredNow, contained, putBack, relationOf, withoutUserTriggers, type KeyClash, type PgError, type PutBackOutcome } from './stash-put-back.js';

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
  const rows = await client.query<{ k: string }>(`SELECT DISTINCT version::text || ':' || COALESCE(up_sha256, '') AS k FROM ${STASH_TABLE}`);
  return new Set(rows.rows.map((r) => r.k));
}

export const stashKey = (version: bigint, upSha256: string | null) => `${version}:${upSha256 ?? ''}`;

/**
 * The versions whose entries this migration (version, up sha256) puts back: its own, and (issue 25.11)
 * any other kept for the same up file that the file on disk at that version no longer is: the migration
 * renumbered (8 → 10 when main took 8). `sameUpOnDisk(v, sha)`: the up file at v has that sha256.
 */
export function stashedUnder(keys: ReadonlySet<string>, version: bigint, upSha256: string | null, sameUpOnDisk: (version: bigint, upSha256: string) => boolean): bigint[] {
  const versions = keys.has(stashKey(version, upSha256)) ? [version] : [];
  if (upSha256 === null) return versions;
  for (const key of keys) {
    const at = key.indexOf(':');
    const other = BigInt(key.slice(0, at));
    if (other !== version && key.slice(at + 1) === upSha256 && !sameUpOnDisk(other, upSha256)) versions.push(other);
  }
  return versions;
}

export async function dropStashEntries(client: PgClient, ids: readonly number[]): Promise<void> {
  for (const id of ids) {
    await client.query(`DROP TABLE IF EXISTS ${stashDataTable(id)}`);
    await client.query(`DELETE FROM ${STASH_TABLE} WHERE id = $1`, [id]);
  }
}


/** The table a foreign key of the entry's table references ("schema.table"), and whether the key is DEFERRABLE. */
async function referencedBy(client: PgClient, constraint: string, entry: StashEntry): Promise<{ referenced: string; deferrable: boolean } | undefined> {
  return (await client.query<{ referenced: string; deferrable: boolean }>(
    `SELECT n.nspname || '.' || c.relname AS referenced, k.condeferrable AS deferrable FROM pg_constraint k JOIN pg_class c ON c.oid = k.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE k.conname = $1 AND k.conrelid = $2::regclass`, [constraint, relationOf(entry)])).rows[0];
}

/**
 * Why rows stayed behind a foreign key, truthfully: the rows they reference are not there, or the
 * referenced table waits for these (a cycle whose key is not DEFERRABLE, so neither can go first).
 */
async function blockedReason(client: PgClient, outcome: PutBackOutcome, entry: StashEntry, waiting: ReadonlySet<string>): Promise<string> {
  const error = outcome.error as PgError;
  if (error.code !== '23503' || !error.constraint) return `${error.message}`;
  const found = await referencedBy(client, error.constraint, entry);
  if (!found) return error.message;
  if (waiting.has(found.referenced) && found.referenced !== qualifiedName(entry.schema, entry.table)) {
    return found.deferrable
      ? `they and the rows of ${found.referenced} (also in the stash) reference each other, and even put back together some of them reference rows that are not there (foreign key ${error.constraint})`
      : `they and the rows of ${found.referenced} (also in the stash) reference each other, and ${error.constraint} is not DEFERRABLE, so neither table could go first`;
  }
  return `they reference rows of ${found.referenced} that are not there (foreign key ${error.constraint}); put those back, then dbguard stash restore ${entry.id}`;
}

/**
 * Tables whose foreign keys reference each other go back together when the keys are DEFERRABLE:
 * every entry in, then the keys checked once. All or none.
 */
async function putBackTogether(client: PgClient, entries: readonly StashEntry[], mode: RestoreMode): Promise<PutBackOutcome[] | null> {
  const together = await contained(client, () => withoutUserTriggers(client, [...new Set(entries.map(relationOf))], async () => {
    await client.query('SET CONSTRAINTS ALL DEFERRED');
    const outcomes: PutBackOutcome[] = [];
    for (const entry of entries) {
      const outcome = await putBack(client, entry, { ...mode, rowByRow: false, alone: false });
      if (outcome.error) throw outcome.error;
      outcomes.push(outcome);
    }
    await checkDeferredNow(client);
    return outcomes;
  }));
  return 'ok' in together ? together.ok : null;
}

/**
 * Materialized views the up built read the tables as the up left them (empty): those reading a
 * restored table, through views or other materialized views, are refreshed, in dependency order.
 */
async function refreshViewsReading(client: PgClient, tables: readonly string[]): Promise<string[]> {
  if (tables.length === 0) return [];
  const views = await client.query<{ name: string; depth: number }>(
    `WITH RECURSIVE reads(oid, depth) AS (
       SELECT DISTINCT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
       WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY ($1::regclass[]) AND r.ev_class <> d.refobjid
       UNION
       SELECT r.ev_class, reads.depth + 1 FROM reads JOIN pg_depend d ON d.refobjid = reads.oid AND d.refclassid = 'pg_class'::regclass AND d.classid = 'pg_rewrite'::regclass
       JOIN pg_rewrite r ON r.oid = d.objid WHERE r.ev_class <> d.refobjid AND reads.depth < 32)
     SELECT format('%I.%I', n.nspname, c.relname) AS name, max(reads.depth) AS depth FROM reads JOIN pg_class c ON c.oid = reads.oid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'm' AND c.relispopulated GROUP BY 1 ORDER BY 2, 1`, [tables]);
  const refreshed: string[] = [];
  for (const { name } of views.rows) {
    const done = await contained(client, () => client.query(`REFRESH MATERIALIZED VIEW ${name}`));
    if ('ok' in done) refreshed.push(name);
  }
  return refreshed;
}

/**
 * Restores `entries` inside the open transaction. Rounds first: each entry whole, and one its foreign
 * keys stop waits for the others (a parent goes first). What still waits is tried together (deferrable
 * cycles), then row by row: each row that fits goes back, the others stay, with the true reason.
 * Entries fully restored are dropped; the others stay with a note and are tried again next time.
 */
/** How a restore treats the table's rows under a stashed key, and whether it may move sequences (not in a dry run). */
export interface RestoreMode {
  readonly keyClash: KeyClash;
  readonly moveSequences: boolean;
  readonly upRows?: ReadonlyMap<string, string>;
}

export async function restoreEntries(client: PgClient, entries: readonly StashEntry[], mode: RestoreMode): Promise<StashRestore[]> {
  // Keep mode lists them too: a row there before is the user's; one another entry put back is not (said so).
  const upRows = await listUpRows(client, entries);
  try {
    return await withDefaultOutput(client, () => restoreInOrder(client, entries, { ...mode, upRows }));
  } finally {
    for (const list of upRows.values()) await client.query(`DROP TABLE IF EXISTS ${list}`).catch(() => undefined);
  }
}

/**
 * Issue 25.2: two entries of one migration (rolled back twice, re-applied by the app in between) may
 * hold different rows under one key. Before any goes back, the rows of each table several entries go
 * into are listed: those are the up's, the only ones a stashed row replaces.
 */
async function listUpRows(client: PgClient, entries: readonly StashEntry[]): Promise<Map<string, string>> {
  const rels = entries.map(relationOf);
  const lists = new Map<string, string>();
  for (const rel of new Set(rels.filter((r, i) => rels.indexOf(r) !== i))) {
    if (!(await relationExists(client, rel))) continue;
    const list = `dbguard_up_rows_${lists.size}`;
    await client.query(`CREATE TEMP TABLE ${list} ON COMMIT DROP AS SELECT tableoid AS rel_oid, ctid AS row_tid FROM ${rel}`);
    lists.set(rel, `pg_temp.${list}`);
  }
  return lists;
}

/**
 * Values are compared and fingerprinted as text, whose form depends on the session (TimeZone, DateStyle,
 * IntervalStyle, extra_float_digits, bytea_output). An up may SET them: the restore reads with the
 * database's defaults, as the stash did, and gives the session back its own settings after.
 */
const OUTPUT_SETTINGS = ['TimeZone', 'DateStyle', 'IntervalStyle', 'extra_float_digits', 'bytea_output'];

async function withDefaultOutput<T>(client: PgClient, work: () => Promise<T>): Promise<T> {
  const saved = (await client.query<{ s: string[] }>(`SELECT ARRAY[${OUTPUT_SETTINGS.map((n) => `current_setting('${n}')`).join(', ')}] AS s`)).rows[0]?.s ?? [];
  for (const name of OUTPUT_SETTINGS) await client.query(`SET LOCAL ${name} TO DEFAULT`);
  try {
    return await work();
  } finally {
    for (const [i, name] of OUTPUT_SETTINGS.entries()) await client.query('SELECT set_config($1, $2, true)', [name, saved[i]]).catch(() => undefined);
  }
}

/** The waiting entries in groups whose foreign keys reference each other (each error names the table it needs). */
async function groupsOf(client: PgClient, waiting: readonly StashEntry[], errors: ReadonlyMap<number, PgError>): Promise<StashEntry[][]> {
  const tableOf = (e: StashEntry) => qualifiedName(e.schema, e.table);
  const parent = new Map(waiting.map((e) => [tableOf(e), tableOf(e)]));
  const find = (t: string): string => (parent.get(t) === t ? t : find(parent.get(t) as string));
  for (const entry of waiting) {
    const error = errors.get(entry.id);
    if (!error?.constraint) continue;
    const referenced = (await referencedBy(client, error.constraint, entry))?.referenced;
    if (referenced && parent.has(referenced)) parent.set(find(tableOf(entry)), find(referenced));
  }
  const groups = new Map<string, StashEntry[]>();
  for (const entry of waiting) groups.set(find(tableOf(entry)), [...(groups.get(find(tableOf(entry))) ?? []), entry]);
  return [...groups.values()];
}

async function restoreInOrder(client: PgClient, entries: readonly StashEntry[], mode: RestoreMode): Promise<StashRestore[]> {
  const results = new Map<number, StashRestore>();
  const errors = new Map<number, PgError>();
  let waiting = [...entries];
  while (waiting.length > 0) {
    const next: StashEntry[] = [];
    for (const entry of waiting) {
      const outcome = await putBack(client, entry, { ...mode, rowByRow: false, alone: true });
      if (outcome.error?.code === '23503' && outcome.result.restored === 0) {
        next.push(entry);
        errors.set(entry.id, outcome.error);
      } else results.set(entry.id, await withReason(client, outcome, entry, new Set()));
    }
    if (next.length === waiting.length) break;
    waiting = next;
  }
  // Each group of tables that wait for each other goes back together (DEFERRABLE keys); one group's failure stops only its own.
  const stillWaiting = new Set(waiting.map((e) => qualifiedName(e.schema, e.table)));
  for (const group of await groupsOf(client, waiting, errors)) {
    const together = group.length > 1 ? await putBackTogether(client, group, mode) : null;
    if (together) together.forEach((outcome) => results.set(outcome.result.id, outcome.result));
    else for (const entry of group) results.set(entry.id, await withReason(client, await putBack(client, entry, { ...mode, rowByRow: true, alone: true }), entry, stillWaiting));
  }
  const ordered = entries.map((e) => results.get(e.id) as StashRestore);
  const restoredTables = [...new Set(entries.filter((e) => (results.get(e.id)?.restored ?? 0) > 0).map(relationOf))];
  const refreshed = await refreshViewsReading(client, restoredTables);
  const first = ordered.findIndex((r) => r.restored > 0);
  if (refreshed.length > 0 && first >= 0) {
    const r = ordered[first] as StashRestore;
    ordered[first] = { ...r, message: `${r.message}; refreshed materialized view${refreshed.length === 1 ? '' : 's'} ${refreshed.join(', ')}` };
  }
  await dropStashEntries(client, ordered.filter((r) => r.left === 0).map((r) => r.id));
  for (const r of ordered.filter((x) => x.left > 0)) {
    await client.query(`UPDATE ${STASH_TABLE} SET note = $2, row_count = $3, bytes = pg_total_relation_size('${stashDataTable(r.id)}') WHERE id = $1`, [r.id, r.message, r.left]);
  }
  return ordered;
}

async function withReason(client: PgClient, outcome: PutBackOutcome, entry: StashEntry, waiting: ReadonlySet<string>): Promise<StashRestore> {
  if (outcome.error === null || outcome.blocked === 0) return outcome.result;
  const reason = await blockedReason(client, outcome, entry, waiting);
  return { ...outcome.result, message: `${outcome.result.message}; ${outcome.blocked} stay in stash ${entry.id}: ${reason}` };
}

const entriesWhere = async (client: PgClient, where: string, params: unknown[]) =>
  (await client.query<StashRow>(`SELECT * FROM ${STASH_TABLE} WHERE ${where} ORDER BY kind DESC, id`, params)).rows.map(toEntry);

/**
 * Restores every stash entry of a migration applied again. `from` (stashedUnder): entries kept under a
 * version it was renumbered from are its own, moved to it first. `keyClash`: 'replace' right after the
 * up, in its transaction (a row under a stashed key is one the up made again, and gives way); 'keep' when
 * the project's own migrator applied it and capture finds it later (a row under a stashed key may be the
 * app's, written since: it stays, and the stashed row stays in the stash, reported).
 */
export async function restoreStash(
  client: PgClient, version: bigint, upSha256: string | null, from: readonly bigint[] = [version], keyClash: 'replace' | 'keep' = 'replace',
): Promise<StashRestore[]> {
  if (!(await stashExists(client))) return [];
  const renumbered = from.filter((v) => v !== version).map(String);
  if (renumbered.length > 0) await client.query(`UPDATE ${STASH_TABLE} SET version = $1 WHERE version = ANY ($2::bigint[]) AND up_sha256 = $3`, [version.toString(), renumbered, upSha256]);
  const entries = await entriesWhere(client, 'version = $1 AND up_sha256 IS NOT DISTINCT FROM $2', [version.toString(), upSha256]);
  return entries.length === 0 ? [] : restoreEntries(client, entries, { keyClash, moveSequences: true });
}

/** `dbguard stash restore <id>`: what fits now goes back; a row under the same key in the table is the user's, and kept. */
export async function restoreChosenEntries(client: PgClient, ids: readonly number[], dryRun: boolean): Promise<StashRestore[]> {
  const entries = await entriesWhere(client, 'id = ANY ($1::bigint[])', [ids.map(String)]);
  return restoreEntries(client, entries, { keyClash: 'keep', moveSequences: !dryRun });
}
