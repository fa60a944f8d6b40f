/**
 * `dbguard verify` of 500 migrations (issue 11, DESIGN §11): fingerprint, up, down, fingerprint,
 * up again for each, on a temporary embedded database it creates and removes, against
 * `dbguard migrate` of the same 500 onto a fresh embedded database (initialise, start, apply, stop) in
 * the same run. No target is set for the ratio; the figure says what CI pays for the check.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, printTable } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const COUNT = 500;

const root = mkdtempSync(join(tmpdir(), 'dbguard-bench-verify-'));
chmodSync(root, 0o755);
mkdirSync(join(root, 'migrations'));
mkdirSync(join(root, '.git'));
writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ migrationsDir: 'migrations' }));
for (let v = 1; v <= COUNT; v++) {
  const up = v === 1
    ? 'CREATE TABLE users (id serial PRIMARY KEY, email text);'
    : `CREATE TABLE t${v} (id serial PRIMARY KEY, user_id int REFERENCES users, v text); CREATE INDEX t${v}_user ON t${v} (user_id);`;
  writeFileSync(join(root, 'migrations', `${v}_m${v}.up.sql`), up);
  writeFileSync(join(root, 'migrations', `${v}_m${v}.down.sql`), v === 1 ? 'DROP TABLE users;' : `DROP TABLE t${v};`);
}

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
