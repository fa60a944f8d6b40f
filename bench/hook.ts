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
import { existsSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hookArgs, hookRepo, median, printTable, timeOnce } from './util.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 40);

const repos = { small: hookRepo(2_000), large: hookRepo(20_000) };
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
