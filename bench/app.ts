/**
 * Living with the app (issue 17, DESIGN §14), in one run:
 * - the hook's database check on a checkout that removes an up file the cache does not list (the app
 *   applied it): with the embedded server stopped (its start included; target ≤ 1 s) and running
 *   (target ≤ 0.25 s), next to the hook on a checkout that removes only captured files (the cache answers);
 * - `dbguard run`'s own cost before the app starts, against `dbguard db start` on the same data dir
 *   (both from a stopped server; target ≤ 1.5×).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { median, printTable } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 10);

const root = mkdtempSync(join(tmpdir(), 'dbguard-bench-app-'));
chmodSync(root, 0o755);
const sh = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
};
const dbguard = (...args: string[]) => sh(process.execPath, [BIN, ...args]);
const timed = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { ms, stderr: result.stderr, status: result.status };
};
const write = (files: Record<string, string>) => {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, name), text);
};

try {
  sh('git', ['init', '-q', '-b', 'main']);
  sh('git', ['config', 'user.email', 'bench@example.com']);
  sh('git', ['config', 'user.name', 'bench']);
  sh('mkdir', ['migrations']);
  write({ 'dbguard.config.json': '{}', '.gitignore': '.dbguard/\n' });
  for (let v = 1; v <= 20; v++) write({ [`migrations/${v}_t${v}.up.sql`]: `CREATE TABLE t${v} (id int);`, [`migrations/${v}_t${v}.down.sql`]: `DROP TABLE t${v};` });
  sh('git', ['add', '-A']);
  sh('git', ['commit', '-q', '-m', 'base']);
  const main = sh('git', ['rev-parse', 'HEAD']);
  dbguard('migrate');
  // feature adds 21 (captured by dbguard) and 22 (applied by the app alone).
  write({ 'migrations/21_t21.up.sql': 'CREATE TABLE t21 (id int);', 'migrations/21_t21.down.sql': 'DROP TABLE t21;' });
  sh('git', ['add', '-A']);
  sh('git', ['commit', '-q', '-m', '21']);
  const captured = sh('git', ['rev-parse', 'HEAD']);
  dbguard('migrate');
  write({ 'migrations/22_t22.up.sql': 'CREATE TABLE t22 (id int);', 'migrations/22_t22.down.sql': 'DROP TABLE t22;' });
  sh('git', ['add', '-A']);
  sh('git', ['commit', '-q', '-m', '22']);
  const feature = sh('git', ['rev-parse', 'HEAD']);
  dbguard('db', 'start');
  const url = dbguard('db', 'url', '--show-password');
  const app = new pg.Client({ connectionString: url });
  await app.connect();
  await app.query('CREATE TABLE t22 (id int); UPDATE schema_migrations SET version = 22');
  await app.end();
  // Two checkouts, the work tree put in place (no hooks installed here) before each is timed: feature →
  // 21 takes away only 22, which the app applied alone; 21 → main takes away only 21, which the cache lists.
  const uncaptured = ['hook', 'post-checkout', feature, captured, '1'];
  const onlyCaptured = ['hook', 'post-checkout', captured, main, '1'];
  const at = (rev: string) => sh('git', ['checkout', '-q', rev]);
  const samples = { stopped: [] as number[], running: [] as number[], captured: [] as number[], run: [] as number[], dbStart: [] as number[] };
  const check = (r: { stderr: string }, what: string) => {
    if (!r.stderr.includes(what)) throw new Error(`unexpected hook output: ${r.stderr}`);
  };
  const stamp = join(root, '.dbguard', 'app-started');
  // The hook records what it learns (issue 26.3): put back the cache that does not list 22 before each
  // timed run, so every run measures the path where the database must be asked.
  const cacheFile = join(root, '.dbguard', 'migration_cache.json');
  const unlearned = readFileSync(cacheFile, 'utf8');
  const forget = () => writeFileSync(cacheFile, unlearned);
  for (let i = 0; i < RUNS; i++) {
    dbguard('db', 'stop');
    at(captured);
    forget();
    const stopped = timed(uncaptured);
    check(stopped, 'checked the database');
    samples.stopped.push(stopped.ms);
    dbguard('db', 'start');
    forget();
    const running = timed(uncaptured);
    check(running, 'checked the database');
    samples.running.push(running.ms);
    at(main);
    const cached = timed(onlyCaptured);
    check(cached, 'lacks');
    samples.captured.push(cached.ms);
    dbguard('db', 'stop');
  }
  // dbguard run on the branch the database is at (the usual start of a working day), against db start.
  at(feature);
  const startApp = () => spawnSync(process.execPath, [BIN, 'run', '--', 'sh', '-c', `date +%s%3N > "${stamp}"`], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
  startApp(); // its final capture records 22, which the app applied: from here on the check is clean
  for (let i = 0; i < RUNS; i++) {
    const started = Date.now();
    dbguard('db', 'start');
    samples.dbStart.push(Date.now() - started);
    dbguard('db', 'stop');
    // The app records when it starts: run's cost is the time until then (its check included).
    const before = Date.now();
    if (startApp().status !== 0) throw new Error('dbguard run failed');
    samples.run.push(Number(readFileSync(stamp, 'utf8').trim()) - before);
  }
  const [stopped, running, cachedOnly, run, dbStart] = [samples.stopped, samples.running, samples.captured, samples.run, samples.dbStart].map(median) as [number, number, number, number, number];
  printTable(`living with the app (median of ${RUNS} interleaved runs)`, [
    ['hook, uncaptured file removed, server stopped (target ≤ 1000 ms)', `${stopped.toFixed(0)} ms`],
    ['hook, uncaptured file removed, server running (target ≤ 250 ms)', `${running.toFixed(0)} ms`],
    ['hook, only captured files removed (the cache answers)', `${cachedOnly.toFixed(0)} ms`],
    ['dbguard db start (from stopped)', `${dbStart.toFixed(0)} ms`],
    ['dbguard run until the app starts (from stopped)', `${run.toFixed(0)} ms`],
    ['run / db start (target ≤ 1.5)', `${(run / dbStart).toFixed(2)}x`],
  ]);
} finally {
  spawnSync(process.execPath, [BIN, 'db', 'stop'], { cwd: root });
  rmSync(root, { recursive: true, force: true });
}
