/**
 * Issue 28, §17: a worktree's database ready after `git worktree add` with a ~250 MB main database,
 * against plain `git worktree add` + a raw `CREATE DATABASE … STRATEGY FILE_COPY` (target ≤ 1.5×) and
 * against `pg_dump | psql` of the same data on the PostgreSQL 15 server of the dev dependencies (this
 * machine's pg_dump is 15; target ≥ 10× faster); and the postgres processes' memory with ten worktrees
 * against one (target ≤ 1.5×). Medians, interleaved.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { median, printTable, timed, timedAsync } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const ROWS = Number(process.env.BENCH_WORKTREE_ROWS ?? 2_100_000);
const FILL = `CREATE TABLE big (id bigint PRIMARY KEY, payload text); INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, ${ROWS}) g; CHECKPOINT;`;

const env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', GIT_CONFIG_NOSYSTEM: '1' };
const sh = (command: string, args: readonly string[], cwd: string, extra: NodeJS.ProcessEnv = {}) => {
  const result = spawnSync(command, args, { cwd, env: { ...env, ...extra }, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
};

const top = mkdtempSync(join(tmpdir(), 'dbguard-bench-wt-'));
chmodSync(top, 0o755);
const root = join(top, 'repo');
mkdirSync(join(root, 'migrations'), { recursive: true });
mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true });
symlinkSync(BIN, join(root, 'node_modules', '.bin', 'dbguard'));
writeFileSync(join(root, '.gitignore'), 'node_modules/\n.dbguard/\n');
writeFileSync(join(root, 'dbguard.config.json'), '{}');
writeFileSync(join(root, 'migrations', '1_users.up.sql'), 'CREATE TABLE users (id serial PRIMARY KEY, email text);');
writeFileSync(join(root, 'migrations', '1_users.down.sql'), 'DROP TABLE users;');
sh('git', ['init', '-q', '-b', 'main'], root);
sh('git', ['-c', 'user.email=b@b', '-c', 'user.name=b', 'commit', '-q', '--allow-empty', '-m', 'init'], root);
sh('git', ['add', '-A'], root);
sh('git', ['-c', 'user.email=b@b', '-c', 'user.name=b', 'commit', '-q', '-m', 'base'], root);
const dbguard = (...args: string[]) => sh(process.execPath, [BIN, ...args], root);
dbguard('hooks', 'install');
dbguard('migrate');
dbguard('db', 'start');
const url = dbguard('db', 'url', '--show-password').trim();
const connectTo = async (database: string) => {
  const target = new URL(url);
  target.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: target.toString() });
  await client.connect();
  return client;
};

/** The resident memory (PSS, bytes) of every postgres process of a data dir. */
function postgresMemory(dataDir: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      if (!(Number(pid) === postmaster || ppid === postmaster) || !/postgres/.test(cmdline[0] ?? '')) continue;
      total += Number(/Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return total;
}

const pg15 = join(resolve(import.meta.dirname, '..', 'node_modules', 'pg15-binaries', 'native', 'bin'));
const pg15Data = join(top, 'pg15');
try {
  const client = await connectTo('postgres');
  await client.query(FILL);
  const size = Number((await client.query<{ b: string }>("SELECT pg_database_size('postgres')::text AS b")).rows[0]?.b);
  await client.end();

  // The PostgreSQL 15 server for pg_dump | psql (this machine's pg_dump is 15), with the same data.
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  mkdirSync(pg15Data, { recursive: true });
  if (asPostgres.length) sh('chown', ['postgres', pg15Data], top);
  const run15 = (tool: string, args: string[]) => sh(asPostgres[0] ?? join(pg15, tool), asPostgres.length ? [...asPostgres.slice(1), join(pg15, tool), ...args] : args, top);
  run15('initdb', ['-D', pg15Data, '-A', 'trust', '-U', 'postgres', '--encoding=UTF8']);
  const port15 = 20000 + Math.floor(Math.random() * 20000);
  run15('pg_ctl', ['-D', pg15Data, '-o', `-p ${port15} -k /tmp -c listen_addresses=127.0.0.1`, '-w', '-l', join(pg15Data, 'log'), 'start']);
  const pg15Env = { PGHOST: '127.0.0.1', PGPORT: String(port15), PGUSER: 'postgres' };
  sh('psql', ['-qAtc', FILL, 'postgres'], top, pg15Env);

  const samples = { hook: [] as number[], raw: [] as number[], dump: [] as number[] };
  for (let trial = 0; trial < TRIALS; trial++) {
    const withHook = join(top, `wt-hook-${trial}`);
    samples.hook.push(timed(() => sh('git', ['worktree', 'add', '-q', '-b', `hook${trial}`, withHook], root)));
    const raw = join(top, `wt-raw-${trial}`);
    const maintenance = await connectTo('template1');
    samples.raw.push(timed(() => sh('git', ['-c', 'core.hooksPath=/dev/null', 'worktree', 'add', '-q', '-b', `raw${trial}`, raw], root))
      + await timedAsync(() => maintenance.query(`CREATE DATABASE raw_${trial} TEMPLATE postgres STRATEGY FILE_COPY`)));
    // Not timed: back to one worktree of each kind.
    await maintenance.query(`DROP DATABASE raw_${trial}`);
    for (const row of (await maintenance.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'postgres_wt_%'")).rows) await maintenance.query(`DROP DATABASE "${row.datname}"`);
    await maintenance.end();
    sh('git', ['worktree', 'remove', '--force', withHook], root);
    sh('git', ['worktree', 'remove', '--force', raw], root);
    sh('createdb', [`dump_${trial}`], top, pg15Env);
    samples.dump.push(timed(() => sh('sh', ['-c', `pg_dump postgres | psql -q dump_${trial} >/dev/null`], top, pg15Env)));
    sh('dropdb', [`dump_${trial}`], top, pg15Env);
  }

  // Memory: one worktree, then ten, on the one server (each with a session open, as an idle app's would be).
  const dataDir = join(root, '.dbguard', 'postgres');
  const open: pg.Client[] = [];
  const memory: number[] = [];
  for (let n = 1; n <= 10; n++) {
    const path = join(top, `mem-${n}`);
    sh('git', ['worktree', 'add', '-q', '-b', `mem${n}`, path], root);
    const name = sh(process.execPath, [BIN, 'db', 'url'], path).trim().split('/').pop()?.split('?')[0] ?? '';
    open.push(await connectTo(name));
    await new Promise((r) => setTimeout(r, 300));
    if (n === 1 || n === 10) memory.push(postgresMemory(dataDir));
  }
  for (const client of open) await client.end();

  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const hook = median(samples.hook);
  const raw = median(samples.raw);
  const dump = median(samples.dump);
  printTable(`worktree database, ${(size / 1e6).toFixed(0)} MB main database, ${TRIALS} trials (medians)`, [
    ['git worktree add (hook copies, brings in step, env file)', ms(hook)],
    ['plain git worktree add + CREATE DATABASE … FILE_COPY', ms(raw)],
    ['ratio (target ≤ 1.5×)', `${(hook / raw).toFixed(2)}×`],
    ['pg_dump | psql of the same data (PostgreSQL 15)', ms(dump)],
    ['dump / hook (target ≥ 10×)', `${(dump / hook).toFixed(1)}×`],
    ['postgres memory, 1 worktree', `${((memory[0] ?? 0) / 1e6).toFixed(0)} MB`],
    ['postgres memory, 10 worktrees', `${((memory[1] ?? 0) / 1e6).toFixed(0)} MB`],
    ['ratio (target ≤ 1.5×)', `${((memory[1] ?? 0) / (memory[0] ?? 1)).toFixed(2)}×`],
  ]);
} finally {
  spawnSync(process.execPath, [BIN, 'db', 'stop', '--force'], { cwd: root, env });
  spawnSync(join(pg15, 'pg_ctl'), ['-D', pg15Data, 'stop', '-m', 'fast'], { env });
  if (process.getuid?.() === 0) spawnSync('runuser', ['-u', 'postgres', '--', join(pg15, 'pg_ctl'), '-D', pg15Data, 'stop', '-m', 'fast'], { env });
  rmSync(top, { recursive: true, force: true });
}
