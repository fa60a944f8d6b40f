/**
 * Parse + compare + plan over a 20,000-migration listing (issue 2). Prints the median time of the pure
 * core and its ratio to a lower bound measured in the same run: one regex match per file name.
 */
import { golangMigrate } from '../src/formats/golang-migrate.js';
import { buildCatalog } from '../src/core/catalog.js';
import { findPhantomMigrations } from '../src/core/compare.js';
import { planRollback, rollbackCandidates, type DownSql } from '../src/core/plan.js';
import type { MigrationCache } from '../src/core/cache.js';
import { median, printTable } from './util.js';

const COUNT = 20_000;
const versions = Array.from({ length: COUNT }, (_, i) => 20240101000000n + BigInt(i) * 100n);
const names = versions.flatMap((v) => [`${v}_migration_${v}.up.sql`, `${v}_migration_${v}.down.sql`]);
// The branch we are leaving applied all 20,000; the branch we arrive on lacks the last 50.
const cache: MigrationCache = { database: 'embedded', migrations: new Map(versions.map((v) => [v, { filename: `${v}_migration_${v}.up.sql`, downCaptured: true }])) };
const diskNames = names.slice(0, names.length - 100);
const tracked = versions.map((v) => ({ version: v, filename: `${v}_migration_${v}.up.sql`, hasDownSql: true }));

function core(): number {
  const catalog = buildCatalog(diskNames, golangMigrate);
  const comparison = findPhantomMigrations(cache, { catalog, unreadable: new Map() });
  const base = { catalog, current: { version: versions[COUNT - 1] as bigint, dirty: false }, tracked, cache };
  const downSql = new Map<bigint, DownSql>(rollbackCandidates(base).map((c) => [c.version, { version: c.version, filename: c.filename as string, sql: 'DROP TABLE t;', origin: 'tracking-table' }]));
  const plan = planRollback({ ...base, downSql });
  if (comparison.conflicts.length !== 50 || plan.kind !== 'rollback' || plan.steps.length !== 50) throw new Error('bench scenario is wrong');
  return plan.steps.length;
}

function baseline(): number {
  let n = 0;
  for (const name of diskNames) if (/^([0-9]+)_(.+)\.(up|down)\.sql$/.test(name)) n++;
  return n;
}

function time(fn: () => unknown, runs: number): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

time(core, 5); // warm up the JIT for both before measuring
time(baseline, 5);
const coreMs = time(core, 21);
const baseMs = time(baseline, 21);
printTable('pure core, 20,000 migrations (40,000 files), 50 phantoms', [
  ['parse + compare + plan (median of 21)', `${coreMs.toFixed(1)} ms`],
  ['baseline: one regex test per file name', `${baseMs.toFixed(1)} ms`],
  ['ratio core / baseline', `${(coreMs / baseMs).toFixed(1)}x`],
]);
