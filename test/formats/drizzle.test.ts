/**
 * Issue 30, Drizzle Kit through the real tools: drizzle-orm's migrate() as an app calls it on start,
 * and `drizzle-kit migrate`. The app applies on a branch, the checkout back names the migration, a
 * rollback refuses (no down SQL, exit 3) naming branch databases, dbguard migrate records what
 * drizzle-orm records (so drizzle-kit migrate then runs nothing), and an entry below the newest
 * applied one is said to be skipped, as drizzle-orm skips it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, urlFor } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';
import { commitDrizzle, drizzleAppMigrate, drizzleKitMigrate } from '../helpers/tools.js';

let repo: GitRepo | undefined;
afterEach(() => repo?.cleanup());

type Entry = readonly [tag: string, when: number, sql: string];
const USERS: Entry = ['0000_users', 1_700_000_000_000, 'CREATE TABLE "users" ("id" serial PRIMARY KEY NOT NULL, "name" text);\n--> statement-breakpoint\nCREATE INDEX "users_name" ON "users" ("name");'];
const EMAIL: Entry = ['0001_email', 1_700_000_100_000, 'ALTER TABLE "users" ADD COLUMN "email" text;'];
const TAGS: Entry = ['0001_tags', 1_700_000_200_000, 'CREATE TABLE "tags" ("id" serial PRIMARY KEY NOT NULL, "label" text);'];

async function project(entries: readonly Entry[]) {
  const db = await createDatabase();
  const url = urlFor(db);
  repo = GitRepo.create({ nodeModules: false });
  const r = repo;
  rmSync(join(r.root, 'migrations'), { recursive: true });
  r.write('.gitignore', 'node_modules/\n.dbguard/\ndrizzle.config.js\n');
  r.write('dbguard.config.json', JSON.stringify({ database: { url } }));
  commitDrizzle(r, entries, 'main');
  return { db, url, r };
}

const rows = (db: string) => query<{ hash: string; created_at: string }>(db, 'SELECT hash, created_at::text AS created_at FROM drizzle.__drizzle_migrations ORDER BY id');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('Drizzle Kit, with the real drizzle-orm and drizzle-kit', () => {
  it('init tells Drizzle from drizzle/ and its journal, and writes "format": "drizzle"', async () => {
    const { r } = await project([USERS]);
    const init = r.dbguard(['init']);
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).toContain('migrationsDir: drizzle, format: drizzle (told from its files)');
    expect(JSON.parse(readFileSync(join(r.root, 'dbguard.config.json'), 'utf8'))).toMatchObject({ format: 'drizzle' });
  });

  it('the app applies on a branch; the checkout back names it; rollback refuses (exit 3) naming branch databases', async () => {
    const { db, url, r } = await project([USERS]);
    expect(r.dbguard(['hooks', 'install']).status).toBe(0);
    expect(drizzleAppMigrate(r.root, url).status).toBe(0);
    expect(r.dbguard(['status']).status).toBe(0);
    r.git('checkout', '-q', '-b', 'email');
    commitDrizzle(r, [USERS, EMAIL], 'email');
    const app = drizzleAppMigrate(r.root, url);
    expect(app.status, app.stderr).toBe(0);
    expect((await rows(db)).map((row) => row.created_at)).toEqual([String(USERS[1]), String(EMAIL[1])]);

    const back = r.git('checkout', 'main');
    expect(back.stderr).toContain(`this branch lacks 1 migration the database has applied: ${EMAIL[1]}`);
    expect(back.stderr).toContain('Drizzle Kit writes no down SQL');
    expect(back.stderr).toContain('"branchDatabases": true');

    const status = JSON.parse(r.dbguard(['status', '--json']).stdout);
    expect(status.plan).toMatchObject({ kind: 'refuse', reason: 'NO_DOWN_SQL' });
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr + rolled.stdout).toBe(3);
    expect(rolled.stderr).toContain('NO_DOWN_SQL');
    expect(rolled.stderr).toContain(`no down SQL for ${EMAIL[1]} (Drizzle Kit writes no down SQL)`);
    expect(rolled.stderr).toContain('set "branchDatabases": true in dbguard.config.json');
    // migrate names what works, not the rollback that refuses.
    const migrate = r.dbguard(['migrate']);
    expect(migrate.stderr).toContain('error[DATABASE_AHEAD]');
    expect(migrate.stderr).toContain('a rollback would refuse (NO_DOWN_SQL');
    expect(migrate.stderr).not.toMatch(/next: dbguard rollback\s*$/m);
    // Refused: nothing changed.
    expect(await rows(db)).toHaveLength(2);
    expect(await query(db, "SELECT column_name FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email'")).toHaveLength(1);
  });

  it('two branches each generated a 0001_ file of one name (other "when"): the one applied is a phantom on the other, the other pending; nothing is corrupt', async () => {
    const PROFILE_A: Entry = ['0001_profile', 1_700_000_100_000, 'CREATE TABLE "profile_a" ("id" serial PRIMARY KEY);'];
    const PROFILE_B: Entry = ['0001_profile', 1_700_000_200_000, 'CREATE TABLE "profile_b" ("id" serial PRIMARY KEY);'];
    const { url, r } = await project([USERS]);
    expect(r.dbguard(['hooks', 'install']).status).toBe(0);
    expect(drizzleAppMigrate(r.root, url).status).toBe(0);
    r.git('checkout', '-q', '-b', 'b');
    commitDrizzle(r, [USERS, PROFILE_B], 'b');
    r.git('checkout', '-q', 'main');
    r.git('checkout', '-q', '-b', 'a');
    commitDrizzle(r, [USERS, PROFILE_A], 'a');
    expect(drizzleAppMigrate(r.root, url).status).toBe(0);
    expect(r.dbguard(['status']).status).toBe(0);
    const toB = r.git('checkout', 'b');
    expect(toB.stderr).toContain(`this branch lacks 1 migration the database has applied: ${PROFILE_A[1]}`);
    expect(toB.stderr).not.toContain('CACHE_CORRUPT');
    const status = r.dbguard(['status', '--json']);
    expect(status.stderr).not.toContain('CACHE_CORRUPT');
    expect(JSON.parse(status.stdout)).toMatchObject({ phantoms: [{ version: String(PROFILE_A[1]) }], pending: [{ version: String(PROFILE_B[1]) }] });
  });

  it('a journal entry whose file is missing is an error naming it (drizzle-orm fails on it), never "clean"', async () => {
    const { r } = await project([USERS, EMAIL]);
    rmSync(join(r.root, 'drizzle', `${EMAIL[0]}.sql`));
    for (const args of [['status'], ['check'], ['migrate']]) {
      const result = r.dbguard(args);
      expect(result.status, `${args.join(' ')}: ${result.stdout}${result.stderr}`).toBe(2);
      expect(result.stderr).toContain(`error[MIGRATION_FILE_INVALID] meta/_journal.json lists ${EMAIL[0]}.sql, which is not in drizzle`);
    }
  });

  it('dbguard migrate records what drizzle-orm records: drizzle-kit migrate then runs nothing', async () => {
    const { db, url, r } = await project([USERS, EMAIL]);
    const migrated = r.dbguard(['migrate']);
    expect(migrated.status, migrated.stderr + migrated.stdout).toBe(0);
    expect(await rows(db)).toEqual([USERS, EMAIL].map(([, when, sql]) => ({ hash: sha256(sql), created_at: String(when) })));
    const kit = drizzleKitMigrate(r.root, url);
    expect(kit.status, kit.stderr + kit.stdout).toBe(0);
    expect(await rows(db)).toHaveLength(2);
    expect(JSON.parse(r.dbguard(['status', '--json']).stdout)).toMatchObject({ pending: [], outOfOrder: [], plan: { kind: 'clean' } });
  });

  it('an entry below the newest applied one: status says drizzle skips it, and drizzle-orm does', async () => {
    const { db, url, r } = await project([USERS, TAGS]);
    expect(drizzleAppMigrate(r.root, url).status).toBe(0);
    // A merged branch's entry, generated before TAGS: its "when" is below the newest created_at.
    commitDrizzle(r, [USERS, TAGS, ['0002_email', EMAIL[1], EMAIL[2]]], 'merge email');
    const status = r.dbguard(['status', '--json']);
    expect(JSON.parse(status.stdout).outOfOrder).toEqual([{ version: String(EMAIL[1]), filename: '0002_email.sql' }]);
    const text = r.dbguard(['status']).stdout;
    expect(text).toContain(`out of order ${EMAIL[1]}`);
    expect(text).toContain('drizzle would skip');
    // drizzle-orm's own migrator indeed runs nothing.
    expect(drizzleAppMigrate(r.root, url).status).toBe(0);
    expect(await rows(db)).toHaveLength(2);
    // dbguard migrate applies it, recorded as drizzle-orm would (its created_at the entry's "when").
    expect(r.dbguard(['migrate']).status).toBe(0);
    expect((await rows(db)).map((row) => row.created_at)).toEqual([String(USERS[1]), String(TAGS[1]), String(EMAIL[1])]);
    expect(drizzleKitMigrate(r.root, url).status).toBe(0);
    expect(await rows(db)).toHaveLength(3);
  });

  it('lint on a branch whose entry sits below the base\'s newest: drizzle skips it', async () => {
    const { r } = await project([USERS]);
    r.git('checkout', '-q', '-b', 'email');
    commitDrizzle(r, [USERS, EMAIL], 'email');
    r.git('checkout', '-q', 'main');
    commitDrizzle(r, [USERS, TAGS], 'tags');
    r.git('checkout', '-q', 'email');
    const lint = r.dbguard(['lint', '--base', 'main']);
    expect(lint.status, lint.stderr).toBe(1);
    expect(lint.stdout).toContain(`below-base-top  drizzle/0001_email.sql: added below ${TAGS[1]}, the highest version on the base: drizzle skips it`);
  });
});
