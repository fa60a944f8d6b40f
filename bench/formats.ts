/**
 * Issue 19's figures for dbmate and issue 30's for node-pg-migrate, interleaved in one run:
 * - `dbguard migrate` of 500 migrations against the real `dbmate up` / `node-pg-migrate up` of the
 *   same files on the same running embedded server, each from an empty database. Target ≤ 1.2×
 *   (dbmate: aiming at ≤ 1.0×).
 * - The hook's clean path with 2,000 dbmate files, and 2,000 node-pg-migrate files, against 2,000
 *   golang-migrate pairs (each with a cache listing them all): within 1.1× of the golang-migrate figure.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FORMATS } from '../src/formats/index.js';
import { hookArgs, hookRepo, median, printTable, runningEmbeddedClient, timeOnce } from './util.js';
import { serializeCache } from '../src/core/cache.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const DBMATE = resolve(import.meta.dirname, '..', 'node_modules', '.bin', 'dbmate');
const NODE_PG_MIGRATE = resolve(import.meta.dirname, '..', 'node_modules', '.bin', 'node-pg-migrate');
const TRIALS = Number(process.env.BENCH_TRIALS ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const COUNT = 500;

// --- the hook's clean path, 2,000 files of each format
const golang = hookRepo(2_000, 'golang-migrate');
const dbmateRepo = hookRepo(2_000, 'dbmate');
const npmRepo = hookRepo(2_000, 'node-pg-migrate');
const changed = (root: string) => {
  const notes = join(root, 'migrations', 'README.md');
  if (existsSync(notes)) rmSync(notes);
  else writeFileSync(notes, 'notes\n');
  const ms = timeOnce(hookArgs, root);
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(join(root, 'migrations'), hourAgo, hourAgo);
  return ms;
};
const full = (root: string) => {
  rmSync(join(root, '.dbguard', 'clean-stamp.json'), { force: true });
  return timeOnce(hookArgs, root);
};
const hook = {
  node: [] as number[], golang: [] as number[], dbmate: [] as number[], npm: [] as number[], golangChanged: [] as number[], dbmateChanged: [] as number[], npmChanged: [] as number[],
  golangFull: [] as number[], dbmateFull: [] as number[], npmFull: [] as number[],
};
try {
  for (let i = 0; i < 3; i++) { full(golang); full(dbmateRepo); full(npmRepo); }
  for (let i = 0; i < RUNS; i++) {
    hook.node.push(timeOnce(['-e', '0'], golang));
    hook.golang.push(timeOnce(hookArgs, golang));
    hook.dbmate.push(timeOnce(hookArgs, dbmateRepo));
    hook.npm.push(timeOnce(hookArgs, npmRepo));
    hook.golangChanged.push(changed(golang));
    hook.dbmateChanged.push(changed(dbmateRepo));
    hook.npmChanged.push(changed(npmRepo));
    hook.golangFull.push(full(golang));
    hook.dbmateFull.push(full(dbmateRepo));
    hook.npmFull.push(full(npmRepo));
    full(golang);
    full(dbmateRepo);
    full(npmRepo);
  }
} finally {
  for (const root of [golang, dbmateRepo, npmRepo]) rmSync(root, { recursive: true, force: true });
}
const h = Object.fromEntries(Object.entries(hook).map(([k, v]) => [k, median(v)])) as Record<keyof typeof hook, number>;
printTable(`hook clean path, 2,000 migrations (median of ${RUNS} interleaved runs)`, [
  ['node -e 0', `${h.node.toFixed(1)} ms`],
  ['folder unchanged: golang-migrate / dbmate / node-pg-migrate', `${h.golang.toFixed(1)} / ${h.dbmate.toFixed(1)} / ${h.npm.toFixed(1)} ms`],
  ['folder changed, cache not: golang-migrate / dbmate / node-pg-migrate', `${h.golangChanged.toFixed(1)} / ${h.dbmateChanged.toFixed(1)} / ${h.npmChanged.toFixed(1)} ms`],
  ['nothing remembered: golang-migrate / dbmate / node-pg-migrate', `${h.golangFull.toFixed(1)} / ${h.dbmateFull.toFixed(1)} / ${h.npmFull.toFixed(1)} ms`],
  ['dbmate / golang-migrate, unchanged (target ≤ 1.10)', `${(h.dbmate / h.golang).toFixed(2)}x`],
  ['dbmate / golang-migrate, folder changed (target ≤ 1.10)', `${(h.dbmateChanged / h.golangChanged).toFixed(2)}x`],
  ['dbmate / golang-migrate, full check (target ≤ 1.10)', `${(h.dbmateFull / h.golangFull).toFixed(2)}x`],
  ['node-pg-migrate / golang-migrate, unchanged (target ≤ 1.10)', `${(h.npm / h.golang).toFixed(2)}x`],
  ['node-pg-migrate / golang-migrate, folder changed (target ≤ 1.10)', `${(h.npmChanged / h.golangChanged).toFixed(2)}x`],
  ['node-pg-migrate / golang-migrate, full check (target ≤ 1.10)', `${(h.npmFull / h.golangFull).toFixed(2)}x`],
]);

// --- issue 30: the hook's clean path on 2,000 Drizzle Kit and 2,000 Prisma Migrate migrations against golang-migrate
/** A repository of `count` migrations of a tool without down SQL, laid out as the tool writes them, with a cache listing them all. */
function noDownRepo(count: number, format: 'drizzle' | 'prisma'): string {
  const root = mkdtempSync(join(tmpdir(), `dbguard-bench-hook-${format}-${count}-`));
  chmodSync(root, 0o755);
  mkdirSync(join(root, '.git'));
  const dir = format === 'drizzle' ? 'drizzle' : 'prisma/migrations';
  mkdirSync(join(root, dir, format === 'drizzle' ? 'meta' : ''), { recursive: true });
  writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ format, migrationsDir: dir }));
  // As capture records them: no down SQL, and why.
  const noDown = { kind: 'missing' as const, why: FORMATS[format].noDownSql ?? '' };
  const migrations = new Map<bigint, { filename: string; downCaptured: boolean; noDown: typeof noDown }>();
  const entries: Array<{ idx: number; version: string; when: number; tag: string; breakpoints: boolean }> = [];
  for (let i = 1; i <= count; i++) {
    const sql = `CREATE TABLE t${i} (id int);\n`;
    if (format === 'drizzle') {
      const tag = `${String(i - 1).padStart(4, '0')}_migration_number_${i}`;
      const when = 1_700_000_000_000 + i * 1000;
      entries.push({ idx: i - 1, version: '7', when, tag, breakpoints: true });
      writeFileSync(join(root, dir, `${tag}.sql`), sql);
      migrations.set(BigInt(when), { filename: `${tag}.sql`, downCaptured: false, noDown });
    } else {
      const folder = `${20200101000000n + BigInt(i)}_migration_number_${i}`;
      mkdirSync(join(root, dir, folder));
      writeFileSync(join(root, dir, folder, 'migration.sql'), sql);
      migrations.set(20200101000000n + BigInt(i), { filename: `${folder}/migration.sql`, downCaptured: false, noDown });
    }
  }
  if (format === 'drizzle') writeFileSync(join(root, dir, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'postgresql', entries }, null, 2));
  else writeFileSync(join(root, dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
  mkdirSync(join(root, '.dbguard'));
  writeFileSync(join(root, '.dbguard', 'migration_cache.json'), serializeCache({ database: 'embedded:postgres', migrations }, FORMATS[format]));
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(join(root, dir), hourAgo, hourAgo);
  utimesSync(join(root, '.dbguard', 'migration_cache.json'), hourAgo, hourAgo);
  return root;
}

function hookNoDownFormats(): void {
  const repos = { golang: hookRepo(2_000, 'golang-migrate'), drizzle: noDownRepo(2_000, 'drizzle'), prisma: noDownRepo(2_000, 'prisma') };
  const times = { golang: [] as number[], drizzle: [] as number[], prisma: [] as number[], golangFull: [] as number[], drizzleFull: [] as number[], prismaFull: [] as number[] };
  try {
    for (let i = 0; i < 3; i++) for (const root of Object.values(repos)) full(root);
    for (let i = 0; i < RUNS; i++) {
      for (const name of ['golang', 'drizzle', 'prisma'] as const) {
        times[name].push(timeOnce(hookArgs, repos[name]));
        times[`${name}Full`].push(full(repos[name]));
        full(repos[name]);
      }
    }
  } finally {
    for (const root of Object.values(repos)) rmSync(root, { recursive: true, force: true });
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<keyof typeof times, number>;
  printTable(`hook clean path, 2,000 migrations of the tools without down SQL (median of ${RUNS} interleaved runs)`, [
    ['folder unchanged: golang-migrate / drizzle / prisma', `${m.golang.toFixed(1)} / ${m.drizzle.toFixed(1)} / ${m.prisma.toFixed(1)} ms`],
    ['nothing remembered: golang-migrate / drizzle / prisma', `${m.golangFull.toFixed(1)} / ${m.drizzleFull.toFixed(1)} / ${m.prismaFull.toFixed(1)} ms`],
    ['drizzle / golang-migrate, unchanged / full check (target ≤ 1.10)', `${(m.drizzle / m.golang).toFixed(2)}x / ${(m.drizzleFull / m.golangFull).toFixed(2)}x`],
    ['prisma / golang-migrate, unchanged / full check (target ≤ 1.10)', `${(m.prisma / m.golang).toFixed(2)}x / ${(m.prismaFull / m.golangFull).toFixed(2)}x`],
  ]);
}
hookNoDownFormats();

// --- migrate of 500 migrations: dbguard against the tool itself (dbmate, then node-pg-migrate)
interface Tool {
  readonly format: 'dbmate' | 'node-pg-migrate';
  readonly dir: string;
  readonly table: string;
  readonly label: string;
  readonly target: string;
  run(url: string): [string, string[], NodeJS.ProcessEnv];
}
const TOOLS: Tool[] = [
  { format: 'dbmate', dir: 'db/migrations', table: 'schema_migrations', label: 'dbmate up --no-dump-schema', target: 'target ≤ 1.2, aim ≤ 1.0', run: (url) => [DBMATE, ['--url', url, '--migrations-dir', 'db/migrations', '--no-dump-schema', 'up'], {}] },
  { format: 'node-pg-migrate', dir: 'migrations', table: 'pgmigrations', label: 'node-pg-migrate up', target: 'target ≤ 1.2', run: (url) => [NODE_PG_MIGRATE, ['up'], { DATABASE_URL: url }] },
];

async function migrateBench(tool: Tool): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), `dbguard-bench-${tool.format}-`));
  chmodSync(root, 0o755);
  mkdirSync(join(root, '.git'));
  mkdirSync(join(root, tool.dir), { recursive: true });
  writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ migrationsDir: tool.dir, format: tool.format }));
  for (let v = 1; v <= COUNT; v++) {
    const version = 20240101000000 + v;
    const up = v === 1 ? 'CREATE TABLE users (id serial PRIMARY KEY, email text);'
      : `CREATE TABLE t${v} (id serial PRIMARY KEY, user_id int REFERENCES users, v text);\nCREATE INDEX t${v}_user ON t${v} (user_id);`;
    for (const [name, text] of Object.entries(FORMATS[tool.format].filesFor(`${version}_m${v}`, up, `DROP TABLE ${v === 1 ? 'users' : `t${v}`};`))) writeFileSync(join(root, tool.dir, name), text);
  }
  const run = (command: string, args: string[], env: NodeJS.ProcessEnv = {}): string => {
    const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  run(process.execPath, [BIN, 'db', 'start']);
  const { client, server } = await runningEmbeddedClient(root);
  const running = server.running();
  const target = server.target(running?.port as number);
  const url = `postgres://${encodeURIComponent(target.user)}:${encodeURIComponent(target.password ?? '')}@${target.host}:${target.port}/postgres?sslmode=disable`;
  const empty = async () => {
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA IF EXISTS _dbguard CASCADE;');
    rmSync(join(root, '.dbguard', 'migration_cache.json'), { force: true });
  };
  const count = async () => Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${tool.table}`)).rows[0]?.n);
  const timeRun = async (command: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    await empty();
    const started = performance.now();
    run(command, args, env);
    const ms = performance.now() - started;
    if (await count() !== COUNT) throw new Error(`${command} applied ${await count()}, expected ${COUNT}`);
    return ms;
  };
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    await timeRun(...tool.run(url)); // warm-up
    for (let trial = 0; trial < TRIALS; trial++) {
      ours.push(await timeRun(process.execPath, [BIN, 'migrate']));
      theirs.push(await timeRun(...tool.run(url)));
    }
    const [o, d] = [median(ours), median(theirs)];
    printTable(`migrate of ${COUNT} ${tool.format} migrations on a running embedded server (median of ${TRIALS} interleaved)`, [
      ['dbguard migrate (capture, cache, schema record included)', `${o.toFixed(0)} ms`],
      [tool.label, `${d.toFixed(0)} ms`],
      [`dbguard / ${tool.format} (${tool.target})`, `${(o / d).toFixed(2)}x`],
    ]);
  } finally {
    await client.end();
    run(process.execPath, [BIN, 'db', 'stop']);
    rmSync(root, { recursive: true, force: true });
  }
}

for (const tool of TOOLS) await migrateBench(tool);
