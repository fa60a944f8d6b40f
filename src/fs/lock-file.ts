/**
 * A lock file beside the embedded data dir, so two hooks or commands never start, stop or roll back
 * the same server at once. A lock whose owner PID is dead is stale and taken over.
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DbguardError } from '../core/errors.js';

export interface HeldLock {
  release(): void;
}

export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function busyError(what: string, holder: string): DbguardError {
  return new DbguardError('DB_BUSY', `${what} is busy: another dbguard run (${holder}) holds the lock`, {
    hint: 'wait for the other run to finish, then run the command again',
    details: { holder },
  });
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
    if (!Number.isNaN(holderPid) && !isProcessAlive(holderPid)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() >= deadline) throw busyError('the embedded database', Number.isNaN(holderPid) ? 'starting' : `pid ${holderPid}`);
    await sleep(50 + Math.random() * 50);
  }
}

export function lockTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.DBGUARD_LOCK_TIMEOUT_MS);
  return Number.isFinite(value) && value >= 0 ? value : 10_000;
}
