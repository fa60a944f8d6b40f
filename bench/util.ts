import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { serializeCache } from '../src/core/cache.js';
import { FORMATS } from '../src/formats/index.js';
import pg from 'pg';
import { EmbeddedServer } from '../src/embedded/server.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function printTable(title: string, rows: Array<[string, string]>): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`\n${title}`);
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);
}

/**
 * A project folder with `count` migrations (a users table, then tables referencing it, each with an
 * index) and a config for the embedded database; `.git` makes it the repository root. Returns the up SQL too.
 */
export function migrationProject(prefix: string, count: number): { root: string; ups: string[] } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(root, 0o755);
  mkdirSync(join(root, 'migrations'));
  mkdirSync(join(root, '.git'));
  writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ migrationsDir: 'migrations' }));
  const ups: string[] = [];
  for (let v = 1; v <= count; v++) {
    const up = v === 1
      ? 'CREATE TABLE users (id serial PRIMARY KEY, email text);'
      : `CREATE TABLE t${v} (id serial PRIMARY KEY, user_id int REFERENCES users, v text); CREATE INDEX t${v}_user ON t${v} (user_id);`;
    writeFileSync(join(root, 'migrations', `${v}_m${v}.up.sql`), up);
    writeFileSync(join(root, 'migrations', `${v}_m${v}.down.sql`), v === 1 ? 'DROP TABLE users;' : `DROP TABLE t${v};`);
    ups.push(up);
  }
  return { root, ups };
}

/** A client of the project's embedded database, which `dbguard db start` left running. */
export async function runningEmbeddedClient(root: string, database = 'postgres'): Promise<{ client: pg.Client; server: EmbeddedServer }> {
  const server = new EmbeddedServer({ stateDir: join(root, '.dbguard'), port: undefined, database: 'postgres' });
  const running = server.running();
  if (!running) throw new Error('embedded server did not start');
  const target = server.target(running.port);
  const client = new pg.Client({ host: target.host, port: target.port, user: target.user, password: target.password, database });
  await client.connect();
  return { client, server };
}

export const timed = (work: () => void): number => { const started = performance.now(); work(); return performance.now() - started; };
export const timedAsync = async (work: () => Promise<unknown>): Promise<number> => { const started = performance.now(); await work(); return performance.now() - started; };

/** The built CLI run in `root`; a failure stops the bench with what it printed. */
export function dbguardIn(root: string): (...args: string[]) => string {
  const bin = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
  return (...args) => {
    const result = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`dbguard ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
    return result.stdout;
  };
}

/** Moves the migration files starting with `prefix` out of `dir` and back: what a checkout away and back does to them. */
export function setAside(dir: string, prefix: string): { hide: () => void; show: () => void } {
  const aside = join(dir, '..', `aside-${prefix.replace(/\W/g, '')}`);
  mkdirSync(aside, { recursive: true });
  return {
    hide: () => { for (const f of readdirSync(dir).filter((f) => f.startsWith(prefix))) renameSync(join(dir, f), join(aside, f)); },
    show: () => { for (const f of readdirSync(aside)) renameSync(join(aside, f), join(dir, f)); },
  };
}

/**
 * A repository for the hook's clean path: N migrations of a format (golang-migrate's pairs, or one
 * dbmate or node-pg-migrate file each, its format named as `dbguard init` writes it) and a cache listing them all.
 */
export function hookRepo(count: number, format: 'golang-migrate' | 'dbmate' | 'node-pg-migrate' = 'golang-migrate'): string {
  const root = mkdtempSync(join(tmpdir(), `dbguard-bench-hook-${format}-${count}-`));
  chmodSync(root, 0o755);
  mkdirSync(join(root, 'migrations'));
  mkdirSync(join(root, '.git')); // findRoot stops here; the clean path runs no git command
  if (format !== 'golang-migrate') writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ format }));
  const migrations = new Map<bigint, { filename: string; downCaptured: boolean }>();
  for (let i = 1; i <= count; i++) {
    const version = 20200101000000n + BigInt(i);
    // Each format's own files (dbmate's and node-pg-migrate's one file with its markers, golang-migrate's pair).
    const files = Object.entries(FORMATS[format].filesFor(`${version}_migration_number_${i}`, `CREATE TABLE t${i} (id int);`, `DROP TABLE t${i};`));
    for (const [name, text] of files) writeFileSync(join(root, 'migrations', name), format === 'golang-migrate' ? `${text}\n` : text);
    const up = files.map(([name]) => name).find((name) => FORMATS[format].isUpFile(name)) as string;
    migrations.set(version, { filename: up, downCaptured: true });
  }
  mkdirSync(join(root, '.dbguard'));
  // The cache names the format it was written for: this repository's.
  writeFileSync(join(root, '.dbguard', 'migration_cache.json'), serializeCache({ database: 'embedded:postgres', migrations }, FORMATS[format]));
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

export const hookArgs = [resolve(import.meta.dirname, '..', 'dist', 'bin.js'), 'hook', 'post-checkout', 'a'.repeat(40), 'b'.repeat(40), '1'];

/** One run of node with `args` in `cwd`, in ms; anything on stderr means it was not the clean path. */
export function timeOnce(args: string[], cwd: string): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...SHIM_DIFF } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0 || result.stderr.length > 0) throw new Error(`not a clean run: ${result.stderr.toString()}`);
  return ms;
}
