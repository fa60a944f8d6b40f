/**
 * Session-level advisory locks, so two dbguard runs never change one database at once, and the
 * project's own migrator cannot interleave with us (DESIGN §4): besides dbguard's key we hold the
 * keys the project's tool takes (its format says which: golang-migrate's come from the database,
 * schema and table names).
 */
import { crc32 } from 'node:zlib';
import { busyError } from '../core/errors.js';
import type { MigrationFormat } from '../core/format.js';
import type { PgClient } from './client.js';

/** A fixed key: "dbguard" as a 64-bit number. Other tools are unlikely to pick it. */
export const DBGUARD_LOCK_KEY = '7233188547264315764';

/** golang-migrate's key, where callers (and its tests) name it. */
export { golangMigrateLockKey } from '../formats/golang-migrate.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Tries the keys in order in one round trip, stopping at the first one held elsewhere (CASE evaluates in
 * order): how many it took, the first ones.
 */
async function tryLocks(client: PgClient, keys: readonly string[]): Promise<number> {
  const chain = keys.reduceRight((rest, _key, i) => `CASE WHEN pg_try_advisory_lock($${i + 1}::bigint) THEN ${rest} ELSE ${i} END`, String(keys.length));
  const result = await client.query<{ taken: number }>(`SELECT ${chain} AS taken`, [...keys]);
  return Number(result.rows[0]?.taken ?? 0);
}

/** Releases the keys, last taken first, in one round trip. */
async function unlockAll(client: PgClient, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  const calls = [...keys.keys()].reverse().map((i) => `pg_advisory_unlock($${i + 1}::bigint)`);
  await client.query(`SELECT ${calls.join(', ')}`, [...keys]).catch(() => undefined);
}

async function tryLock(client: PgClient, key: string): Promise<boolean> {
  const result = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
  return result.rows[0]?.ok === true;
}

/** Who holds a key in this database (advisory locks are per database: the filter matters). */
async function holderOf(client: PgClient, key: string): Promise<number | null> {
  const holder = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND ((classid::bigint << 32) | objid::bigint) = $1::bigint AND pid <> pg_backend_pid() LIMIT 1`,
    [key],
  ).catch(() => ({ rows: [] as Array<{ pid: number }> }));
  return holder.rows[0]?.pid ?? null;
}

export async function acquireAdvisoryLock(client: PgClient, format: MigrationFormat, timeoutMs: number): Promise<() => Promise<void>> {
  const names = await client.query<{ db: string; schema: string | null }>('SELECT current_database() AS db, current_schema() AS schema');
  const keys = [DBGUARD_LOCK_KEY, ...format.lockKeys(names.rows[0]?.db ?? '', names.rows[0]?.schema ?? 'public')];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held = keys.slice(0, await tryLocks(client, keys));
    if (held.length === keys.length) return () => unlockAll(client, held);
    await unlockAll(client, held); // never hold one while waiting for another
    if (Date.now() >= deadline) {
      const blocked = keys[held.length] as string;
      const pid = await holderOf(client, blocked);
      throw busyError('the database', blocked === DBGUARD_LOCK_KEY
        ? (pid === null ? 'another session' : `backend pid ${pid}`)
        : `the project's migrator (${format.name}'s lock${pid === null ? '' : `, backend pid ${pid}`})`);
    }
    await sleep(50 + Math.random() * 100);
  }
}

/**
 * The gate: a lock on the maintenance database keyed by the target database's name, taken before a
 * changing session connects to the target. A second dbguard run then waits without a connection to
 * the target, which CREATE DATABASE … TEMPLATE (the snapshot, §12) needs to have none of.
 */
export async function acquireGateLock(maintenance: PgClient, database: string, timeoutMs: number): Promise<void> {
  const key = (BigInt(crc32(Buffer.from(`dbguard-gate\0${database}`, 'utf8'))) + (1n << 40n)).toString();
  const deadline = Date.now() + timeoutMs;
  while (!(await tryLock(maintenance, key))) {
    if (Date.now() >= deadline) throw busyError('the database', 'another dbguard run');
    await sleep(50 + Math.random() * 100);
  }
}

export async function withAdvisoryLock<T>(client: PgClient, format: MigrationFormat, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  const release = await acquireAdvisoryLock(client, format, timeoutMs);
  try {
    return await work();
  } finally {
    await release();
  }
}
