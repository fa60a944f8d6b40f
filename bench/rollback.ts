/**
 * Rollback of 50 migrations on the embedded database, starting from a stopped server (issue 6):
 * `dbguard rollback --yes` as a user runs it (node start, server start, plan, 50 steps, cache, server
 * stop) against the same 50 down scripts run directly through pg in one session, server start and stop
 * included. Target: dbguard ≤ 2× the direct run. Interleaved trials, medians.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { silent } from '../src/core/events.js';
import { migratePending } from '../src/engine/migrate.js';
import { withSession } from '../src/engine/session.js';
import { EmbeddedServer } from '../src/embedded/server.js';
import { loadSettings } from '../src/fs/config.js';
import { median, printTable } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? 5);
const STEPS = 50;

const root = mkdtempSync(join(tmpdir(), 'dbguard-bench-rollback-'));
chmodSync(root, 0o755);
const dir = join(root, 'migrations');
mkdirSync(dir);
mkdirSync(join(root, '.git')); // the project root marker
writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ migrationsDir: 'migrations' }));

const base = { '1_keep.up.sql': "CREATE TABLE keep (id serial PRIMARY KEY, note text); INSERT INTO keep (note) SELECT 'n' || g FROM generate_series(1, 1000) g;", '1_keep.down.sql': 'DROP TABLE keep;' };
const ups: string[] = [];
const downs: string[] = [];
const branchA: Record<string, string> = { ...base };
for (let v = 2; v < 2 + STEPS; v++) {
  const up = `CREATE TABLE t${v} (id serial PRIMARY KEY, v text); INSERT INTO t${v} (v) SELECT g::text FROM generate_series(1, 100) g; CREATE INDEX t${v}_v ON t${v} (v); ALTER TABLE keep ADD COLUMN c${v} int;`;
  const down = `ALTER TABLE keep DROP COLUMN c${v}; DROP TABLE t${v};`;
  branchA[`${v}_step_${v}.up.sql`] = up;
  branchA[`${v}_step_${v}.down.sql`] = down;
  ups.push(up);
  downs.unshift(down); // rolled back from the top
}

function setFiles(files: Record<string, string>): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
}

const settings = () => loadSettings(root, {});
const server = new EmbeddedServer({ stateDir: join(root, '.dbguard'), port: undefined, database: 'postgres' });

/** Branch A applied by dbguard (a temporary server, stopped afterwards), then the switch to the base. */
async function applyBranchA(): Promise<void> {
  setFiles(branchA);
  await withSession(settings(), { destructive: true, create: true }, (session) => migratePending(session, settings(), silent));
  setFiles(base);
}

/**
 * `variant`: the rollback engine alone (no snapshot, stash off: what the ≤ 2× target was set for), with
 * the stash keeping each step's 100 rows (§13), and with the automatic snapshot too (§12, the default).
 */
type Variant = 'engine' | 'stash' | 'default';
const VARIANTS: readonly Variant[] = ['engine', 'stash', 'default'];

async function timeDbguard(variant: Variant): Promise<{ totalMs: number; stepsMs: number }> {
  writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ migrationsDir: 'migrations', ...(variant === 'engine' ? { stash: false } : {}) }));
  const started = performance.now();
  const result = spawnSync(process.execPath, [BIN, 'rollback', '--yes', '--json', ...(variant === 'default' ? [] : ['--no-snapshot'])], { cwd: root, encoding: 'utf8' });
  const totalMs = performance.now() - started;
  if (result.status !== 0) throw new Error(`dbguard rollback failed: ${result.stdout}${result.stderr}`);
  const doc = JSON.parse(result.stdout) as { applied: Array<{ ms: number }> };
  if (doc.applied.length !== STEPS) throw new Error(`rolled back ${doc.applied.length}, expected ${STEPS}`);
  return { totalMs, stepsMs: doc.applied.reduce((sum, a) => sum + a.ms, 0) };
}

/** The same down SQL through pg in one session, server start and stop included; the restore is not timed. */
async function timeDirect(): Promise<{ totalMs: number; stepsMs: number }> {
  const started = performance.now();
  const running = await server.start(true);
  const target = server.target(running.port);
  const client = new pg.Client({ host: target.host, port: target.port, user: target.user, password: target.password, database: target.database });
  await client.connect();
  const stepsStarted = performance.now();
  for (const down of downs) await client.query(down);
  const stepsMs = performance.now() - stepsStarted;
  const restoreStarted = performance.now();
  for (const up of ups) await client.query(up);
  const restoreMs = performance.now() - restoreStarted;
  await client.end();
  await server.stop();
  return { totalMs: performance.now() - started - restoreMs, stepsMs };
}

try {
  const samples = { direct: [] as number[], directSteps: [] as number[] };
  const ours = new Map(VARIANTS.map((v) => [v, { total: [] as number[], steps: [] as number[] }]));
  await applyBranchA(); // initialises the data dir
  await timeDirect(); // warm-up: binaries and data files in the page cache
  for (let trial = 0; trial < TRIALS; trial++) {
    for (const variant of VARIANTS) {
      const run = await timeDbguard(variant);
      ours.get(variant)?.total.push(run.totalMs);
      ours.get(variant)?.steps.push(run.stepsMs);
      await applyBranchA();
    }
    const direct = await timeDirect();
    samples.direct.push(direct.totalMs);
    samples.directSteps.push(direct.stepsMs);
  }
  const [direct, directSteps] = [median(samples.direct), median(samples.directSteps)];
  const of = (variant: Variant) => ({ total: median(ours.get(variant)?.total ?? []), steps: median(ours.get(variant)?.steps ?? []) });
  const [engine, stash, full] = [of('engine'), of('stash'), of('default')];
  // The branch's tables are emptied by applyBranchA's next run, so every trial stashes the same rows.
  printTable(`rollback of ${STEPS} migrations from a stopped embedded server (median of ${TRIALS})`, [
    ['direct pg, one session: start, 50 downs, stop', `${direct.toFixed(0)} ms`],
    ['dbguard rollback --yes --no-snapshot, "stash": false', `${engine.total.toFixed(0)} ms`],
    ['  / direct (target ≤ 2.00)', `${(engine.total / direct).toFixed(2)}x`],
    ['  per step (transaction, version, tracking row)', `${(engine.steps / STEPS).toFixed(2)} ms`],
    ['dbguard rollback --yes --no-snapshot, stash on (100 rows kept per step)', `${stash.total.toFixed(0)} ms`],
    ['  / direct', `${(stash.total / direct).toFixed(2)}x`],
    ['  per step', `${(stash.steps / STEPS).toFixed(2)} ms`],
    ['dbguard rollback --yes (defaults: snapshot first, stash on)', `${full.total.toFixed(0)} ms`],
    ['  / direct', `${(full.total / direct).toFixed(2)}x`],
    ['direct per down script', `${(directSteps / STEPS).toFixed(2)} ms`],
  ]);
} finally {
  await server.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
}
