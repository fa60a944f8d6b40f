/**
 * `dbguard migrate` of 500 migrations against applying the same up SQL directly through pg in one
 * session (issue 6), both on an embedded server that is already running (`dbguard db start`), both
 * starting from an empty database. Target: dbguard ≤ 1.5× the direct run. Interleaved trials, medians.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { median, migrationProject, printTable, runningEmbeddedClient } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? 5);
const COUNT = 500;

const { root, ups } = migrationProject('dbguard-bench-migrate-', COUNT);

function dbguard(...args: string[]): string {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`dbguard ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

dbguard('db', 'start');
const { client } = await runningEmbeddedClient(root);

async function emptyDatabase(): Promise<void> {
  await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA IF EXISTS _dbguard CASCADE;');
  rmSync(join(root, '.dbguard', 'migration_cache.json'), { force: true });
}

const stepSums: number[] = [];
async function timeDbguard(): Promise<number> {
  await emptyDatabase();
  const started = performance.now();
  const doc = JSON.parse(dbguard('migrate', '--json')) as { applied: Array<{ ms: number }> };
  const total = performance.now() - started;
  if (doc.applied.length !== COUNT) throw new Error(`applied ${doc.applied.length}, expected ${COUNT}`);
  stepSums.push(doc.applied.reduce((sum, a) => sum + a.ms, 0));
  return total;
}

async function timeDirect(): Promise<number> {
  await emptyDatabase();
  const started = performance.now();
  for (const up of ups) await client.query(up);
  return performance.now() - started;
}

try {
  await timeDirect(); // warm-up
  const ours: number[] = [];
  const direct: number[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    ours.push(await timeDbguard());
    direct.push(await timeDirect());
  }
  const [o, d] = [median(ours), median(direct)];
  printTable(`migrate of ${COUNT} migrations on a running embedded server (median of ${TRIALS})`, [
    ['dbguard migrate (process, plan, 500 steps, capture, cache)', `${o.toFixed(0)} ms`],
    ['direct pg, one session, 500 up scripts', `${d.toFixed(0)} ms`],
    ['dbguard / direct (target ≤ 1.50)', `${(o / d).toFixed(2)}x`],
    ['dbguard per migration (step only: file, version, down SQL)', `${(median(stepSums) / COUNT).toFixed(2)} ms`],
    ['dbguard fixed cost (node, connect, read files, capture, cache)', `${(o - median(stepSums)).toFixed(0)} ms`],
    ['direct per migration', `${(d / COUNT).toFixed(2)} ms`],
  ]);
} finally {
  await client.end();
  dbguard('db', 'stop');
  rmSync(root, { recursive: true, force: true });
}
