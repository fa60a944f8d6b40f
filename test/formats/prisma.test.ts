/**
 * Issue 30, Prisma Migrate. Its CLI needs an engine binary it downloads at install, which this machine
 * cannot, so `prismaDeploy` (test/helpers/tools.ts, which cites the prisma-engines source it follows)
 * stands in for `prisma migrate deploy`; applied = a row finished and not rolled back.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, urlFor } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';
import { commitPrisma, prismaDeploy } from '../helpers/tools.js';

let repo: GitRepo | undefined;
afterEach(() => repo?.cleanup());

const USERS = ['20240101000000_users', 'CREATE TABLE "users" ("id" SERIAL NOT NULL, "name" TEXT, CONSTRAINT "users_pkey" PRIMARY KEY ("id"));\n'] as const;
const EMAIL = ['20240201000000_email', 'ALTER TABLE "users" ADD COLUMN "email" TEXT;\n'] as const;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

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

  it('verify checks the ups in order and passes: no down SQL is no finding for a tool that writes none', async () => {
    const { r } = await project([USERS, EMAIL]);
    const verify = r.dbguard(['verify']);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain('ok: 2 migrations, every up applies in order from empty (Prisma Migrate writes no down SQL: no round trip to check)');
    expect(verify.stdout).not.toContain('no-down-file');
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
    const check = r.dbguard(['check']);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain(`The migration \`${USERS[0]}\` was modified after it was applied.`);
    expect(check.stdout).not.toContain('clean');
  });

  it('a migration that failed under Prisma (started, not finished, not rolled back) blocks migrate and rollback as Prisma blocks deploy (P3009), changing nothing', async () => {
    const { db, r } = await project([USERS, EMAIL]);
    await prismaDeploy(db, r.root);
    // What prisma-engines leaves when the script fails: the started row, never finished.
    await query(db, "UPDATE _prisma_migrations SET finished_at = NULL, applied_steps_count = 0 WHERE migration_name = $1", [EMAIL[0]]);
    const before = await query(db, 'SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name');
    for (const args of [['migrate'], ['status'], ['rollback', '--yes']]) {
      const result = r.dbguard(args);
      expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(3);
      expect(result.stderr).toContain(`error[TOOL_MIGRATION_FAILED] _prisma_migrations says ${EMAIL[0]} failed`);
      expect(result.stderr).toContain(`npx prisma migrate resolve --rolled-back ${EMAIL[0]}`);
    }
    expect(await query(db, 'SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name')).toEqual(before);
  });
});
