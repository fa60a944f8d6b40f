/** A session-level advisory lock, so two dbguard runs never change one database at once (DESIGN §4). */
import { busyError } from '../fs/lock-file.js';
import type { PgClient } from './client.js';

/** A fixed key: "dbguard" as a 64-bit number. Other tools are unlikely to pick it. */
export const DBGUARD_LOCK_KEY = '7233188547264315764';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function acquireAdvisoryLock(client: PgClient, timeoutMs: number): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [DBGUARD_LOCK_KEY]);
    if (result.rows[0]?.ok) {
      return async () => {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [DBGUARD_LOCK_KEY]).catch(() => undefined);
      };
    }
    if (Date.now() >= deadline) {
      const holder = await client.query<{ pid: number }>(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1::bigint LIMIT 1",
        [DBGUARD_LOCK_KEY],
      ).catch(() => ({ rows: [] as Array<{ pid: number }> }));
      throw busyError('the database', holder.rows[0] ? `backend pid ${holder.rows[0].pid}` : 'another session');
    }
    await sleep(50 + Math.random() * 100);
  }
}

export async function withAdvisoryLock<T>(client: PgClient, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  const unlock = await acquireAdvisoryLock(client, timeoutMs);
  try {
    return await work();
  } finally {
    await unlock();
  }
}
