/**
 * Issue 9, item 13: a stale lock (its owner died) is taken over by exactly one of the processes
 * waiting for it; none of them may remove another's fresh lock.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLockFile, breakStaleLock } from '../../src/fs/lock-file.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const LOCK_MODULE = resolve(import.meta.dirname, '../../src/fs/lock-file.ts');

/** Each child takes the lock, logs "+pid", holds it briefly, logs "-pid", releases. */
function contender(lockFile: string, log: string): Promise<number> {
  const script = `
    import { appendFileSync } from 'node:fs';
    const { acquireLockFile } = await import(${JSON.stringify(LOCK_MODULE)});
    const lock = await acquireLockFile(${JSON.stringify(lockFile)}, 20000);
    appendFileSync(${JSON.stringify(log)}, '+' + process.pid + '\\n');
    await new Promise((r) => setTimeout(r, 30));
    appendFileSync(${JSON.stringify(log)}, '-' + process.pid + '\\n');
    lock.release();`;
  return new Promise((resolveExit) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'inherit' });
    child.on('close', (code) => resolveExit(code ?? -1));
  });
}

describe('lock file', () => {
  it('eight processes waiting on a stale lock hold it one at a time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbguard-lock-'));
    dirs.push(dir);
    const lockFile = join(dir, 'dbguard.lock');
    const log = join(dir, 'log');
    writeFileSync(log, '');
    writeFileSync(lockFile, '2147483646\n0\n'); // a PID that is not running: stale
    const codes = await Promise.all(Array.from({ length: 8 }, () => contender(lockFile, log)));
    expect(codes).toEqual(Array(8).fill(0));
    const events = readFileSync(log, 'utf8').trim().split('\n');
    expect(events).toHaveLength(16);
    let holders = 0;
    for (const event of events) {
      holders += event.startsWith('+') ? 1 : -1;
      expect(holders).toBeLessThanOrEqual(1);
    }
  }, 60_000);

  it('a waiter that saw the dead owner, arriving after another took over, leaves the fresh lock alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbguard-lock-'));
    dirs.push(dir);
    const lockFile = join(dir, 'dbguard.lock');
    writeFileSync(lockFile, '2147483646\n0\n');
    const fresh = await acquireLockFile(lockFile, 1000); // took over the stale lock
    const ours = readFileSync(lockFile, 'utf8');
    expect(ours.startsWith(`${process.pid}\n`)).toBe(true);
    expect(breakStaleLock(lockFile, 2147483646)).toBe(true); // the late waiter's takeover attempt
    expect(readFileSync(lockFile, 'utf8')).toBe(ours);
    fresh.release();
  });
});
