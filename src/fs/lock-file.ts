/**
 * A lock file beside the embedded data dir, so two hooks or commands never start, stop or roll back
 * the same server at once. A lock whose owner PID is dead is stale and taken over.
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { busyError, DbguardError } from '../core/errors.js';
import { isProcessAlive } from '../core/process.js';

export { isProcessAlive };

export { busyError };

export interface HeldLock {
  release(): void;
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


/**
 * Removes a stale lock, race-free: two waiters that both saw the dead PID must not both remove (the
 * second would remove the first one's fresh lock). Only the holder of `<lock>.break` (created O_EXCL)
 * may remove, and only after re-reading that the lock still names the dead PID.
 */
export function breakStaleLock(path: string, stalePid: number): boolean {
  const breaker = `${path}.break`;
  try {
    writeFileSync(breaker, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  } catch {
    // Another waiter is breaking it, or a breaker died holding it: clear that one when its PID is dead.
    try {
      if (!isProcessAlive(Number.parseInt(readFileSync(breaker, 'utf8'), 10))) rmSync(breaker, { force: true });
    } catch {
      // Gone meanwhile.
    }
    return false;
  }
  try {
    if (Number.parseInt(readFileSync(path, 'utf8').split('\n')[0] ?? '', 10) === stalePid) rmSync(path, { force: true });
  } catch {
    // Already removed by its owner's release.
  } finally {
    rmSync(breaker, { force: true });
  }
  return true;
}

export async function acquireLockFile(path: string, timeoutMs: number): Promise<HeldLock> {
  const token = `${process.pid}\n${Date.now()}\n`;
  const deadline = Date.now() + timeoutMs;
  mkdirSync(dirname(path), { recursive: true });
  for (;;) {
    try {
      writeFileSync(path, token, { flag: 'wx', mode: 0o600 });
      return {
        release() {
          try {
            if (readFileSync(path, 'utf8') === token) rmSync(path, { force: true });
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new DbguardError('STATE_DIR_UNWRITABLE', `cannot create lock file ${path} (${(error as NodeJS.ErrnoException).code})`, {
          hint: `check that ${dirname(path)} is writable`, details: { path },
        });
      }
    }
    let holderPid: number;
    try {
      holderPid = Number.parseInt(readFileSync(path, 'utf8').split('\n')[0] ?? '', 10);
    } catch {
      continue; // Released between our attempts: try again at once.
    }
    // An empty file is a lock being written this instant, not a stale one.
    if (!Number.isNaN(holderPid) && !isProcessAlive(holderPid) && breakStaleLock(path, holderPid)) continue;
    if (Date.now() >= deadline) throw busyError('the embedded database', Number.isNaN(holderPid) ? 'starting' : `pid ${holderPid}`);
    await sleep(50 + Math.random() * 50);
  }
}

export function lockTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.DBGUARD_LOCK_TIMEOUT_MS);
  return Number.isFinite(value) && value >= 0 ? value : 10_000;
}
