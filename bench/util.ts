import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
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
