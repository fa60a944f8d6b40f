/**
 * Issue 30, Prisma Migrate. Its CLI needs an engine binary it downloads at install, which this machine
 * cannot, so `prismaDeploy` stands in for `prisma migrate deploy`, writing `_prisma_migrations` as
 * prisma-engines does: the table from schema-engine/connectors/sql-schema-connector/src/flavour/postgres.rs
 * (create_migrations_table); per migration, in apply_migrations.rs and sql_migration_persistence.rs,
 * record_migration_started (id = a v4 uuid, checksum = sha256 of migration.sql, started_at, name), the
 * script as one simple query, record_successful_step (applied_steps_count + 1), record_migration_finished
 * (finished_at), each its own statement; applied = a row finished and not rolled back.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, urlFor } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';

let repo: GitRepo | undefined;
afterEach(() => repo?.cleanup());

const DIR = 'prisma/migrations';
const USERS = ['20240101000000_users', 'CREATE TABLE "users" ("id" SERIAL NOT NULL, "name" TEXT, CONSTRAINT "users_pkey" PRIMARY KEY ("id"));\n'] as const;
const EMAIL = ['20240201000000_email', 'ALTER TABLE "users" ADD COLUMN "email" TEXT;\n'] as const;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Stand-in for `prisma migrate deploy` (see the header): every folder without a live row, in name order. */
async function prismaDeploy(db: string, root: string): Promise<void> {
  await query(db, `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, migration_name VARCHAR(255) NOT NULL,
    logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INTEGER NOT NULL DEFAULT 0)`);
  const live = new Set((await query<{ migration_name: string }>(db, 'SELECT migration_name FROM _prisma_migrations WHERE rolled_back_at IS NULL')).map((r) => r.migration_name));
  const folders = readdirSync(join(root, DIR), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort((a, b) => a.localeCompare(b));
  for (const name of folders.filter((f) => !live.has(f))) {
    const script = readFileSync(join(root, DIR, name, 'migration.sql'), 'utf8');
    const id = randomUUID();
    await query(db, 'INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, $3, $4)', [id, sha256(script), new Date(), name]);
    await query(db, script);
    await query(db, 'UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1 WHERE id = $1', [id]);
    await query(db, 'UPDATE _prisma_migrations SET finished_at = $1 WHERE id = $2', [new Date(), id]);
  }
}

function commitPrisma(r: GitRepo, migrations: ReadonlyArray<readonly [string, string]>, message: string): void {
  rmSync(join(r.root, DIR), { recursive: true, force: true });
  mkdirSync(join(r.root, DIR), { recursive: true });
  writeFileSync(join(r.root, DIR, 'migration_lock.toml'), 'provider = "postgresql"\n');
  for (const [name, sql] of migrations) {
    mkdirSync(join(r.root, DIR, name));
    writeFileSync(join(r.root, DIR, name, 'migration.sql'), sql);
  }
  r.git('add', '-A');
  r.git('commit', '-q', '-m', message);
}

async function project(migrations: ReadonlyArray<readonly [string, string]>) {
  const db = await createDatabase();
  repo = GitRepo.create({ nodeModules: false });
  const r = repo;
  rmSync(join(r.root, 'migrations'), { recursive: true });
  r.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
  commitPrisma(r, migrations, 'main');
  return { db, r };
}

const rows = (db: string) => query<{ migration_name: string; checksum: string; applied_steps_count: number; finished: boolean; logs: string | null }>(db,
  'SELECT migration_name, checksum, applied_steps_count, finished_at IS NOT NULL AS finished, logs FROM _prisma_migrations WHERE rolled_back_at IS NULL ORDER BY started_at');

describe('Prisma Migrate (its table as prisma-engines writes it)', () => {
  it('init tells Prisma from prisma/migrations and writes "format": "prisma"', async () => {
    const { r } = await project([USERS]);
    const init = r.dbguard(['init']);
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).toContain('migrationsDir: prisma/migrations, format: prisma (told from its files)');
    expect(JSON.parse(readFileSync(join(r.root, 'dbguard.config.json'), 'utf8'))).toMatchObject({ format: 'prisma' });
  });

  it('deployed on a branch; the checkout back names it; rollback refuses (exit 3) naming branch databases', async () => {
    const { db, r } = await project([USERS]);
    expect(r.dbguard(['hooks', 'install']).status).toBe(0);
    await prismaDeploy(db, r.root);
    expect(r.dbguard(['status']).status).toBe(0);
    r.git('checkout', '-q', '-b', 'email');
    commitPrisma(r, [USERS, EMAIL], 'email');
    await prismaDeploy(db, r.root);
    const back = r.git('checkout', 'main');
    expect(back.stderr).toContain('this branch lacks 1 migration the database has applied: 20240201000000');
    expect(back.stderr).toContain('Prisma Migrate writes no down SQL');
    expect(back.stderr).toContain('"branchDatabases": true');
    const status = r.dbguard(['status']);
    expect(status.stdout).toContain(`20240201000000  ${EMAIL[0]}/migration.sql`);
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr + rolled.stdout).toBe(3);
    expect(rolled.stderr).toContain('NO_DOWN_SQL');
    expect(rolled.stderr).toContain('set "branchDatabases": true in dbguard.config.json');
    expect((await rows(db)).map((row) => row.migration_name)).toEqual([USERS[0], EMAIL[0]]);
  });

  it('dbguard migrate records rows as prisma-engines does; deploy then applies nothing', async () => {
    const { db, r } = await project([USERS, EMAIL]);
    const migrated = r.dbguard(['migrate']);
    expect(migrated.status, migrated.stderr + migrated.stdout).toBe(0);
    expect(await rows(db)).toEqual([USERS, EMAIL].map(([name, sql]) => ({ migration_name: name, checksum: sha256(sql), applied_steps_count: 1, finished: true, logs: null })));
    expect((await query<{ id: string }>(db, 'SELECT id FROM _prisma_migrations')).every((row) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(row.id))).toBe(true);
    await prismaDeploy(db, r.root);
    expect(await rows(db)).toHaveLength(2);
  });

  it('a migration edited after it was applied: status says it as Prisma does (its checksum differs)', async () => {
    const { db, r } = await project([USERS]);
    await prismaDeploy(db, r.root);
    expect(r.dbguard(['status']).status).toBe(0);
    commitPrisma(r, [[USERS[0], `${USERS[1]}CREATE INDEX "users_name" ON "users" ("name");\n`]], 'edit an applied migration');
    const status = r.dbguard(['status']);
    expect(status.status).toBe(1);
    expect(status.stdout).toContain(`The migration \`${USERS[0]}\` was modified after it was applied.`);
    expect(JSON.parse(r.dbguard(['status', '--json']).stdout).edited).toEqual([{ version: '20240101000000', filename: `${USERS[0]}/migration.sql` }]);
  });
});
