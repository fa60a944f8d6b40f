/**
 * The real migration tools (DESIGN §15), run as a user would: dbmate, drizzle-kit, drizzle-orm and
 * node-pg-migrate from npm, sql-migrate from Debian; and a stand-in for Prisma's `migrate deploy`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { query } from './db.js';
import { PACKAGE_ROOT, run, type GitRepo, type RunResult } from './git.js';

export const DBMATE = join(PACKAGE_ROOT, 'node_modules', '.bin', 'dbmate');
export const SQL_MIGRATE = '/usr/bin/sql-migrate';
export const hasSqlMigrate = existsSync(SQL_MIGRATE);

/** lib/pq, which both tools use, wants sslmode spelt out for a local server. */
const withSslDisabled = (url: string): string => `${url}${url.includes('?') ? '&' : '?'}sslmode=disable`;

/** `dbmate <args>` against `url`, migrations in `dir` (relative to cwd), no schema dump unless asked. */
export function dbmate(cwd: string, url: string, args: readonly string[], dir = 'db/migrations'): RunResult {
  return run(DBMATE, ['--url', withSslDisabled(url), '--migrations-dir', dir, ...args], cwd);
}

/** `sql-migrate <command>` with a dbconfig.yml in cwd pointing at `url` and `dir`. */
export function sqlMigrate(cwd: string, url: string, command: string, dir = 'migrations'): RunResult {
  writeFileSync(join(cwd, 'dbconfig.yml'), `development:\n  dialect: postgres\n  datasource: ${withSslDisabled(url)}\n  dir: ${dir}\n`);
  return run(SQL_MIGRATE, [command], cwd);
}

/** dbmate status's lines: the files it marks applied and pending, and its counts. */
export function dbmateStatus(output: string): { applied: string[]; pending: string[] } {
  const lines = output.split('\n');
  return {
    applied: lines.filter((l) => l.startsWith('[X] ')).map((l) => l.slice(4).trim()),
    pending: lines.filter((l) => l.startsWith('[ ] ')).map((l) => l.slice(4).trim()),
  };
}

/** sql-migrate status's table: the ids it shows applied (a date) and not ("no"). */
export function sqlMigrateStatus(output: string): { applied: string[]; pending: string[] } {
  const rows = output.split('\n').filter((l) => l.startsWith('|')).map((l) => l.split('|').map((cell) => cell.trim()).filter(Boolean))
    .filter((cells) => cells.length === 2 && cells[0] !== 'MIGRATION');
  return { applied: rows.filter((c) => c[1] !== 'no').map((c) => c[0] as string), pending: rows.filter((c) => c[1] === 'no').map((c) => c[0] as string) };
}

export const DRIZZLE_KIT = join(PACKAGE_ROOT, 'node_modules', '.bin', 'drizzle-kit');

/** The real `drizzle-kit migrate`, with a drizzle.config.js in cwd (dialect postgresql, the url, `out`). */
export function drizzleKitMigrate(cwd: string, url: string, out = 'drizzle'): RunResult {
  writeFileSync(join(cwd, 'drizzle.config.js'), `module.exports = ${JSON.stringify({ dialect: 'postgresql', out, dbCredentials: { url } })};\n`);
  return run(DRIZZLE_KIT, ['migrate', '--config', 'drizzle.config.js'], cwd);
}

/** An app calling drizzle-orm's migrate() on start (test/fixtures/drizzle-app.mjs), on `dir` (relative to cwd). */
export function drizzleAppMigrate(cwd: string, url: string, dir = 'drizzle'): RunResult {
  return run(process.execPath, [join(PACKAGE_ROOT, 'test', 'fixtures', 'drizzle-app.mjs'), dir], cwd, { DATABASE_URL: url });
}

/** A journal as drizzle-kit generate writes it (meta/_journal.json), for `[tag, when]` entries in order. */
export function drizzleJournal(entries: ReadonlyArray<readonly [string, number]>): string {
  return `${JSON.stringify({ version: '7', dialect: 'postgresql', entries: entries.map(([tag, when], idx) => ({ idx, version: '7', when, tag, breakpoints: true })) }, null, 2)}\n`;
}

export const PRISMA_DIR = 'prisma/migrations';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Stand-in for `prisma migrate deploy` (its CLI downloads an engine at install, which this machine
 * cannot): `_prisma_migrations` as prisma-engines writes it — the table from
 * schema-engine/connectors/sql-schema-connector/src/flavour/postgres.rs (create_migrations_table); per
 * migration, in apply_migrations.rs and sql_migration_persistence.rs, record_migration_started (a v4
 * uuid, checksum = sha256 of migration.sql, started_at, name), the script as one simple query,
 * record_successful_step, record_migration_finished, each its own statement.
 */
export async function prismaDeploy(db: string, root: string): Promise<void> {
  await query(db, `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, migration_name VARCHAR(255) NOT NULL,
    logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INTEGER NOT NULL DEFAULT 0)`);
  const live = new Set((await query<{ migration_name: string }>(db, 'SELECT migration_name FROM _prisma_migrations WHERE rolled_back_at IS NULL')).map((r) => r.migration_name));
  const folders = readdirSync(join(root, PRISMA_DIR), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort((a, b) => a.localeCompare(b));
  for (const name of folders.filter((f) => !live.has(f))) {
    const script = readFileSync(join(root, PRISMA_DIR, name, 'migration.sql'), 'utf8');
    const id = randomUUID();
    await query(db, 'INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, $3, $4)', [id, sha256(script), new Date(), name]);
    await query(db, script);
    await query(db, 'UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1 WHERE id = $1', [id]);
    await query(db, 'UPDATE _prisma_migrations SET finished_at = $1 WHERE id = $2', [new Date(), id]);
  }
}


/** Replaces prisma/migrations with these `[folder, sql]` migrations (as prisma migrate dev writes them) and commits. */
export function commitPrisma(r: GitRepo, migrations: ReadonlyArray<readonly [string, string]>, message: string): void {
  rmSync(join(r.root, PRISMA_DIR), { recursive: true, force: true });
  mkdirSync(join(r.root, PRISMA_DIR), { recursive: true });
  writeFileSync(join(r.root, PRISMA_DIR, 'migration_lock.toml'), 'provider = "postgresql"\n');
  for (const [name, sql] of migrations) {
    mkdirSync(join(r.root, PRISMA_DIR, name));
    writeFileSync(join(r.root, PRISMA_DIR, name, 'migration.sql'), sql);
  }
  r.git('add', '-A');
  r.git('commit', '-q', '-m', message);
}


export const NODE_PG_MIGRATE = join(PACKAGE_ROOT, 'node_modules', '.bin', 'node-pg-migrate');

/** The real `node-pg-migrate <args>` against `url` (DATABASE_URL), migrations in cwd's `migrations/`. */
export const nodePgMigrate = (cwd: string, url: string, ...args: string[]): RunResult => run(NODE_PG_MIGRATE, args, cwd, { DATABASE_URL: url });

/** Replaces drizzle/ with these `[tag, when, sql]` entries (files and journal, as drizzle-kit generate writes them) and commits. */
export function commitDrizzle(r: GitRepo, entries: ReadonlyArray<readonly [tag: string, when: number, sql: string]>, message: string): void {
  rmSync(join(r.root, 'drizzle'), { recursive: true, force: true });
  mkdirSync(join(r.root, 'drizzle', 'meta'), { recursive: true });
  for (const [tag, , sql] of entries) writeFileSync(join(r.root, 'drizzle', `${tag}.sql`), sql);
  writeFileSync(join(r.root, 'drizzle', 'meta', '_journal.json'), drizzleJournal(entries.map(([tag, when]) => [tag, when])));
  r.git('add', '-A');
  r.git('commit', '-q', '-m', message);
}
