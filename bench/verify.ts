/**
 * `dbguard verify` of 500 migrations (issue 11, DESIGN §11): fingerprint, up, down, fingerprint,
 * up again for each, on a temporary embedded database it creates and removes, against
 * `dbguard migrate` of the same 500 onto a fresh embedded database (initialise, start, apply, stop) in
 * the same run. No target is set for the ratio; the figure says what CI pays for the check.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { median, migrationProject, printTable } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const COUNT = 500;

const { root } = migrationProject('dbguard-bench-verify-', COUNT);

function timed(...args: string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`dbguard ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
  return performance.now() - started;
}

try {
  const verify: number[] = [];
  const migrate: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    verify.push(timed('verify'));
    rmSync(join(root, '.dbguard'), { recursive: true, force: true });
    migrate.push(timed('migrate'));
  }
  const [v, m] = [median(verify), median(migrate)];
  printTable(`verify of ${COUNT} migrations (median of ${TRIALS})`, [
    ['dbguard verify (temporary cluster, 2 fingerprints and 3 scripts each)', `${v.toFixed(0)} ms`],
    ['dbguard migrate onto a fresh embedded database (initdb, start, stop)', `${m.toFixed(0)} ms`],
    ['verify / migrate', `${(v / m).toFixed(2)}x`],
    ['verify per migration', `${(v / COUNT).toFixed(1)} ms`],
  ]);
} finally {
  rmSync(root, { recursive: true, force: true });
}
