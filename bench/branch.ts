/**
 * Issue 29, §17: a branch checkout that switches to the branch's saved database (two renames in one
 * transaction) with a ~200 MB database against the same with an empty one (target ≤ 1.3×: O(1)), and the
 * same round trip done today's way — the hook rolling back 50 migrations (onConflict: rollback) and
 * `dbguard migrate` applying them again — against the switch. Real git, the shims, the embedded server
 * running (`dbguard db start`), interleaved trials, medians of whole `git checkout` runs.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dbguardIn, median, printTable, runningEmbeddedClient, timed } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? 5);
const ROWS = Number(process.env.BENCH_BRANCH_ROWS ?? 1_700_000);
const STEPS = 50;
const roots: string[] = [];

function git(root: string, ...args: string[]): string {
  const result = spawnSync('git', args, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr}`);
  return result.stderr;
}

/** A repository on `main` with one migration applied, hooks installed, its embedded server running. */
function repository(config: Record<string, unknown>): { root: string; dbguard: (...args: string[]) => string } {
  const root = mkdtempSync(join(tmpdir(), 'dbguard-bench-branch-'));
  chmodSync(root, 0o755);
  roots.push(root);
  mkdirSync(join(root, 'migrations'));
  mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(BIN, join(root, 'node_modules', '.bin', 'dbguard'));
  writeFileSync(join(root, '.gitignore'), 'node_modules/\n.dbguard/\n');
  writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify(config));
  writeFileSync(join(root, 'migrations', '1_big.up.sql'), 'CREATE TABLE big (id bigint PRIMARY KEY, payload text);');
  writeFileSync(join(root, 'migrations', '1_big.down.sql'), 'DROP TABLE big;');
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'config', 'user.email', 'bench@example.com');
  git(root, 'config', 'user.name', 'Bench');
  git(root, 'add', '-A');
  git(root, 'commit', '-q', '-m', 'main');
  const dbguard = dbguardIn(root);
  dbguard('hooks', 'install');
  dbguard('migrate');
  dbguard('db', 'start');
  return { root, dbguard };
}

async function fill(root: string, rows: number): Promise<number> {
  const { client } = await runningEmbeddedClient(root);
  try {
    if (rows > 0) await client.query(`INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, ${rows}) g; CHECKPOINT;`);
    return Number((await client.query<{ b: string }>("SELECT pg_database_size('postgres')::text AS b")).rows[0]?.b);
  } finally {
    await client.end();
  }
}

/** A timed checkout that must have switched the database (the hook says so). */
function switchTo(root: string, branch: string): number {
  let said = '';
  const ms = timed(() => (said = git(root, 'checkout', branch)));
  if (!said.includes(`is now ${branch}'s database`)) throw new Error(`the checkout of ${branch} did not switch: ${said}`);
  return ms;
}

try {
  const empty = repository({ branchDatabases: true });
  const large = repository({ branchDatabases: true });
  const emptyBytes = await fill(empty.root, 0);
  const largeBytes = await fill(large.root, ROWS);
  for (const repo of [empty, large]) git(repo.root, 'checkout', '-q', '-b', 'feat'); // feat's database: a copy, made once

  // Today's way: feat has 50 more migrations; leaving it rolls them back (the hook), coming back re-applies them.
  const today = repository({ onConflict: 'rollback' });
  const switching = repository({ branchDatabases: true });
  for (const repo of [today, switching]) {
    git(repo.root, 'checkout', '-q', '-b', 'feat');
    for (let v = 2; v < 2 + STEPS; v++) {
      writeFileSync(join(repo.root, 'migrations', `${v}_step_${v}.up.sql`), `CREATE TABLE t${v} (id serial PRIMARY KEY, v text); INSERT INTO t${v} (v) SELECT g::text FROM generate_series(1, 100) g; CREATE INDEX t${v}_v ON t${v} (v); ALTER TABLE big ADD COLUMN c${v} int;`);
      writeFileSync(join(repo.root, 'migrations', `${v}_step_${v}.down.sql`), `ALTER TABLE big DROP COLUMN c${v}; DROP TABLE t${v};`);
    }
    git(repo.root, 'add', '-A');
    git(repo.root, 'commit', '-q', '-m', 'feat');
    repo.dbguard('migrate');
  }
  git(switching.root, 'checkout', '-q', 'main'); // main's database saved once: from here every checkout switches to a saved one
  git(switching.root, 'checkout', '-q', 'feat');

  const samples = { empty: [] as number[], large: [] as number[], rollbackRemigrate: [] as number[], switchRoundTrip: [] as number[] };
  for (let trial = 0; trial < TRIALS; trial++) {
    for (const [repo, key] of [[empty, 'empty'], [large, 'large']] as const) {
      samples[key].push(switchTo(repo.root, 'main'));
      samples[key].push(switchTo(repo.root, 'feat'));
    }
    samples.rollbackRemigrate.push(timed(() => {
      const away = git(today.root, 'checkout', 'main');
      if (!away.includes(`rolled back ${STEPS} migrations`)) throw new Error(`the hook did not roll back: ${away}`);
      git(today.root, 'checkout', '-q', 'feat');
      today.dbguard('migrate');
    }));
    samples.switchRoundTrip.push(switchTo(switching.root, 'main') + switchTo(switching.root, 'feat'));
  }
  const [e, l, rr, sw] = [samples.empty, samples.large, samples.rollbackRemigrate, samples.switchRoundTrip].map(median) as [number, number, number, number];
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
  printTable(`branch databases (DESIGN §17): whole \`git checkout\` runs through the shims, embedded server running, median of ${TRIALS} rounds`, [
    [`switch to a saved branch database of ${mb(emptyBytes)} (empty)`, `${e.toFixed(0)} ms`],
    [`switch to a saved branch database of ${mb(largeBytes)}`, `${l.toFixed(0)} ms = ${(l / e).toFixed(2)}x the empty one (target ≤ 1.30)`],
    [`today's way: checkout away (hook rolls back ${STEPS}), checkout back, dbguard migrate (${STEPS})`, `${rr.toFixed(0)} ms`],
    ['the same round trip by switching (two checkouts)', `${sw.toFixed(0)} ms; today's way = ${(rr / sw).toFixed(1)}x the switch (expect ≥ 5)`],
  ]);
} finally {
  for (const root of roots) {
    spawnSync(process.execPath, [BIN, 'db', 'stop'], { cwd: root });
    rmSync(root, { recursive: true, force: true });
  }
}
