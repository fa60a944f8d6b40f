/**
 * The hook's clean path (issue 4/6): a repository with N migrations and a cache listing them all, and
 * `dbguard hook post-checkout <prev> <new> 1` timed against a bare `node -e 0`, interleaved in one run.
 * Targets: ≤ 1.3× node at 2,000 migrations; the 20,000 case within 1.5× of the 2,000 case.
 *
 * Three clean paths are measured: the folder unchanged since the last check (the stat stamp answers:
 * the usual checkout between branches that share their migrations); the folder changed but not the
 * cache (a checkout that adds or removes migration files: the folder is listed, the cache's remembered
 * summary is used); and nothing remembered (stamp removed before every run, as on the first checkout
 * after dbguard rewrote the cache: listing plus full cache validation).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serializeCache } from '../src/core/cache.js';
import { median, printTable } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 40);

function makeRepo(count: number): string {
  const root = mkdtempSync(join(tmpdir(), `dbguard-bench-hook-${count}-`));
  chmodSync(root, 0o755);
  mkdirSync(join(root, 'migrations'));
  mkdirSync(join(root, '.git')); // findRoot stops here; the clean path runs no git command
  const migrations = new Map<bigint, { filename: string; downCaptured: boolean }>();
  for (let i = 1; i <= count; i++) {
    const version = 20200101000000n + BigInt(i);
    const up = `${version}_migration_number_${i}.up.sql`;
    writeFileSync(join(root, 'migrations', up), `CREATE TABLE t${i} (id int);\n`);
    writeFileSync(join(root, 'migrations', up.replace('.up.', '.down.')), `DROP TABLE t${i};\n`);
    migrations.set(version, { filename: up, downCaptured: true });
  }
  mkdirSync(join(root, '.dbguard'));
  writeFileSync(join(root, '.dbguard', 'migration_cache.json'), serializeCache({ database: 'embedded:postgres', migrations }));
  // Last changed an hour ago, as a folder is between the checkouts that touch it.
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(join(root, 'migrations'), hourAgo, hourAgo);
  utimesSync(join(root, '.dbguard', 'migration_cache.json'), hourAgo, hourAgo);
  return root;
}

/**
 * What the installed shim hands the hook when its fast path was armed and git said the migrations
 * folder changed (its `git diff --name-status`): the hook then asks git nothing itself (§14's check of
 * what the checkout took away uses it). Without it the hook runs that `git diff` on its own.
 */
const SHIM_DIFF = { DBGUARD_DIFF: 'A\tmigrations/README.md', DBGUARD_DIFF_FOR: 'migrations' };

function timeOnce(args: string[], cwd: string): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...SHIM_DIFF } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0 || result.stderr.length > 0) throw new Error(`not a clean run: ${result.stderr.toString()}`);
  return ms;
}

const hookArgs = [BIN, 'hook', 'post-checkout', 'a'.repeat(40), 'b'.repeat(40), '1'];
const repos = { small: makeRepo(2_000), large: makeRepo(20_000) };
const stamp = (root: string) => join(root, '.dbguard', 'clean-stamp.json');
const fullCheck = (root: string) => {
  rmSync(stamp(root), { force: true });
  return timeOnce(hookArgs, root);
};
const folderChanged = (root: string) => {
  // A file that is not a migration, added or removed: the folder's stat data changes, the cache's does not.
  const notes = join(root, 'migrations', 'README.md');
  if (existsSync(notes)) rmSync(notes);
  else writeFileSync(notes, 'notes\n');
  const ms = timeOnce(hookArgs, root);
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(join(root, 'migrations'), hourAgo, hourAgo); // settled again before the next "unchanged" run
  return ms;
};
try {
  const samples = { node: [] as number[], small: [] as number[], large: [] as number[], smallChanged: [] as number[], largeChanged: [] as number[], smallFull: [] as number[], largeFull: [] as number[] };
  for (let i = 0; i < 3; i++) { // warm the page cache; the last full check leaves a valid stamp
    timeOnce(['-e', '0'], repos.small);
    fullCheck(repos.small);
    fullCheck(repos.large);
  }
  for (let i = 0; i < RUNS; i++) {
    samples.node.push(timeOnce(['-e', '0'], repos.small));
    samples.small.push(timeOnce(hookArgs, repos.small));
    samples.large.push(timeOnce(hookArgs, repos.large));
    samples.smallChanged.push(folderChanged(repos.small));
    samples.largeChanged.push(folderChanged(repos.large));
    samples.smallFull.push(fullCheck(repos.small));
    samples.largeFull.push(fullCheck(repos.large));
    // Leave a settled "clean" record for the next unchanged-folder runs, as between real checkouts.
    fullCheck(repos.small);
    fullCheck(repos.large);
  }
  const [node, small, large, smallChanged, largeChanged, smallFull, largeFull] = [samples.node, samples.small, samples.large, samples.smallChanged, samples.largeChanged, samples.smallFull, samples.largeFull].map(median) as number[] as [number, number, number, number, number, number, number];
  printTable(`hook clean path (median of ${RUNS} interleaved runs)`, [
    ['node -e 0', `${node.toFixed(1)} ms`],
    ['folder unchanged, 2,000 migrations', `${small.toFixed(1)} ms`],
    ['folder unchanged, 20,000 migrations', `${large.toFixed(1)} ms`],
    ['folder changed, cache not, 2,000', `${smallChanged.toFixed(1)} ms`],
    ['folder changed, cache not, 20,000', `${largeChanged.toFixed(1)} ms`],
    ['nothing remembered (full check), 2,000', `${smallFull.toFixed(1)} ms`],
    ['nothing remembered (full check), 20,000', `${largeFull.toFixed(1)} ms`],
    ['unchanged 2,000 / node -e 0 (target ≤ 1.30)', `${(small / node).toFixed(2)}x`],
    ['unchanged 20,000 / 2,000 (target ≤ 1.50)', `${(large / small).toFixed(2)}x`],
    ['folder changed 2,000 / node -e 0 (target ≤ 1.30)', `${(smallChanged / node).toFixed(2)}x`],
    ['folder changed 20,000 / 2,000 (target ≤ 1.50)', `${(largeChanged / smallChanged).toFixed(2)}x`],
    ['full check 2,000 / node -e 0 (target ≤ 1.30)', `${(smallFull / node).toFixed(2)}x`],
    ['full check 20,000 / 2,000 (target ≤ 1.50)', `${(largeFull / smallFull).toFixed(2)}x`],
  ]);
} finally {
  rmSync(repos.small, { recursive: true, force: true });
  rmSync(repos.large, { recursive: true, force: true });
}
