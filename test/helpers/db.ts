/** Per-test databases on the suite's server, and project folders that point dbguard at them. */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { loadSettings } from '../../src/fs/config.js';
import type { Settings } from '../../src/core/settings.js';

export function serverInfo() {
  return inject('pg');
}

export async function adminClient(database = 'postgres'): Promise<pg.Client> {
  const { host, port, user, password } = serverInfo();
  const client = new pg.Client({ host, port, user, password, database });
  await client.connect();
  return client;
}

export function urlFor(database: string, user = serverInfo().user, password = serverInfo().password): string {
  const { host, port } = serverInfo();
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
}

export async function createDatabase(prefix = 't'): Promise<string> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = await adminClient();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return name;
}

export async function query<T extends pg.QueryResultRow = Record<string, unknown>>(database: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = await adminClient(database);
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export type Migrations = Record<string, string>;

/** A temp project folder: `migrations/` holding the given files, state in `.dbguard/`. */
export class Project {
  readonly root: string;
  readonly migrationsDir: string;

  constructor(readonly database: string, config: Record<string, unknown> = {}) {
    this.root = mkdtempSync(join(tmpdir(), 'dbguard-project-'));
    chmodSync(this.root, 0o755);
    this.migrationsDir = join(this.root, 'migrations');
    mkdirSync(this.migrationsDir);
    writeFileSync(join(this.root, 'dbguard.config.json'), JSON.stringify({ database: { url: urlFor(database) }, ...config }));
  }

  /** Replaces the migrations folder's contents (what a branch switch does to the working tree). */
  setMigrations(files: Migrations): void {
    for (const name of readdirSync(this.migrationsDir)) rmSync(join(this.migrationsDir, name), { recursive: true, force: true });
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(this.migrationsDir, name), sql);
  }

  settings(env: NodeJS.ProcessEnv = {}): Settings {
    return loadSettings(this.root, env);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A migration pair creating (up) and dropping (down) one table. */
export function tableMigration(version: string | number, table: string, extraUp = ''): Migrations {
  return {
    [`${version}_create_${table}.up.sql`]: `CREATE TABLE ${table} (id serial PRIMARY KEY, note text);${extraUp}`,
    [`${version}_create_${table}.down.sql`]: `DROP TABLE ${table};`,
  };
}

/** The schema as data: tables, columns, indexes and constraints of `public`, for equality checks. */
export async function schemaSnapshot(database: string): Promise<unknown> {
  const columns = await query(database, `SELECT table_name, column_name, data_type, is_nullable, column_default
    FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY 1, 2`);
  const indexes = await query(database, `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY 1, 2`);
  const constraints = await query(database, `SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'schema_migrations' ORDER BY 1, 2`);
  const sequences = await query(database, `SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public' ORDER BY 1`);
  return { columns, indexes, constraints, sequences };
}

export async function schemaVersion(database: string): Promise<{ version: string; dirty: boolean } | null> {
  const rows = await query<{ version: string; dirty: boolean }>(database, 'SELECT version::text AS version, dirty FROM schema_migrations');
  return rows[0] ?? null;
}

/** Version 1 of the issue-12 fixtures: the users table every later migration hangs off. */
export const usersMigration: Migrations = {
  '1_users.up.sql': 'CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);',
  '1_users.down.sql': 'DROP TABLE users;',
};

/** The rows of one query on the database `url` names (a worktree's own, an app's), on a connection of its own. */
export async function sqlAt<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}
