/**
 * Issue 19, dbmate through the real tool: a project set up as many teams do (the schema dump loaded,
 * then `dbmate up`), a branch switch, dbguard's rollback and migrate — and dbmate's own status and up
 * agreeing afterwards.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, urlFor } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';
import { dbmate, dbmateStatus } from '../helpers/tools.js';

const USERS = '20240101120000_create_users.sql';
const POSTS = '20240102093000_add_posts.sql';
const INDEX = '20240103080000_index_posts_concurrently.sql';

const files: Record<string, string> = {
  [USERS]: `-- migrate:up
-- Users sign in with their e-mail.
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  email text NOT NULL UNIQUE -- lower case
);

-- migrate:down
DROP TABLE users;
`,
  [POSTS]: `-- migrate:up
CREATE TYPE post_state AS ENUM ('draft', 'published');
CREATE TABLE posts (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users, state post_state NOT NULL DEFAULT 'draft', body text);
ALTER TABLE users ADD COLUMN display_name text;

-- migrate:down
ALTER TABLE users DROP COLUMN display_name;
DROP TABLE posts;
DROP TYPE post_state;
`,
  [INDEX]: `-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY posts_by_user ON posts (user_id);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY posts_by_user;
`,
};

/** What `dbmate dump` writes for the first migration (trimmed to what matters): loaded before `dbmate up`. */
const SCHEMA_DUMP = `SET statement_timeout = 0;
SET client_encoding = 'UTF8';
CREATE TABLE public.schema_migrations (version character varying(128) NOT NULL);
ALTER TABLE ONLY public.schema_migrations ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);
CREATE TABLE public.users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);
INSERT INTO public.schema_migrations (version) VALUES ('20240101120000');
`;

function writeMigrations(repo: GitRepo, names: readonly string[]): void {
  const dir = join(repo.root, 'db', 'migrations');
  mkdirSync(dir, { recursive: true });
  repo.git('rm', '-q', '-r', '--ignore-unmatch', 'db/migrations');
  mkdirSync(dir, { recursive: true });
  for (const name of names) writeFileSync(join(dir, name), files[name] as string);
  repo.git('add', '-A');
}

let repo: GitRepo | undefined;
afterEach(() => repo?.cleanup());

async function project(config: Record<string, unknown> = {}) {
  const db = await createDatabase();
  const url = urlFor(db);
  repo = GitRepo.create({ nodeModules: false });
  const r = repo;
  rmSync(join(r.root, 'migrations'), { recursive: true });
  r.write('dbguard.config.json', JSON.stringify({ database: { url }, ...config }));
  mkdirSync(join(r.root, 'db'), { recursive: true });
  r.write('db/schema.sql', SCHEMA_DUMP);
  writeMigrations(r, [USERS]);
  r.git('commit', '-q', '-m', 'users');
  expect(r.dbguard(['hooks', 'install']).status).toBe(0);
  r.git('checkout', '-q', '-b', 'posts');
  writeMigrations(r, [USERS, POSTS, INDEX]);
  r.git('commit', '-q', '-m', 'posts');
  // The dev database as teams set it up: the dump first, then the tool applies the rest.
  await query(db, SCHEMA_DUMP);
  const up = dbmate(r.root, url, ['--no-dump-schema', 'up']);
  expect(up.status, up.stderr).toBe(0);
  return { db, url, r };
}

const versions = async (db: string) => (await query<{ version: string }>(db, 'SELECT version FROM schema_migrations ORDER BY version')).map((row) => row.version);

describe('dbmate, with the real dbmate', () => {
  it('is told from its files; capture, the checkout warning, rollback — and dbmate agrees', async () => {
    const { db, url, r } = await project();
    expect(await versions(db)).toEqual(['20240101120000', '20240102093000', '20240103080000']);
    const captured = r.dbguard(['capture', '--json']);
    expect(captured.status, captured.stderr).toBe(0);
    expect(JSON.parse(captured.stdout)).toMatchObject({ captured: expect.arrayContaining(['20240101120000', '20240102093000', '20240103080000']) });

    const checkout = r.git('checkout', 'main');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr).toContain('this branch lacks 2 migrations the database has applied: 20240103080000, 20240102093000');

    const check = r.dbguard(['check']);
    expect(check.status).toBe(1);
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr + rolled.stdout).toBe(0);
    expect(await versions(db)).toEqual(['20240101120000']);
    expect(await query(db, "SELECT to_regclass('posts') AS t, to_regtype('post_state') AS e")).toEqual([{ t: null, e: null }]);

    const status = dbmate(r.root, url, ['status']);
    expect(dbmateStatus(status.stdout)).toEqual({ applied: [USERS], pending: [] });
    expect(status.stdout).toContain('Applied: 1');
    expect(status.stdout).toContain('Pending: 0');
    const up = dbmate(r.root, url, ['--no-dump-schema', 'up']);
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).not.toContain('Applying');
    expect(r.dbguard(['check']).status).toBe(0);
  });

  it('what dbmate applied without dbguard (no capture) does not pass a checkout unnoticed', async () => {
    const { url, r } = await project();
    r.git('checkout', '-q', 'main');
    expect(r.dbguard(['rollback', '--yes']).status).toBe(0); // the cache now lists the first migration only
    r.git('checkout', '-q', 'posts');
    expect(dbmate(r.root, url, ['--no-dump-schema', 'up']).status).toBe(0);
    const checkout = r.git('checkout', 'main');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr).toContain('lacks 2 migrations the database has applied: 20240103080000, 20240102093000 (checked the database');
  });

  it('dbguard migrate writes the rows dbmate writes: dbmate sees nothing pending, and rolls back what dbguard applied', async () => {
    const { db, url, r } = await project({ format: 'dbmate' });
    r.git('checkout', '-q', 'main');
    expect(r.dbguard(['rollback', '--yes']).status).toBe(0);
    r.git('checkout', '-q', 'posts');
    const migrated = r.dbguard(['migrate']);
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(await versions(db)).toEqual(['20240101120000', '20240102093000', '20240103080000']);
    expect(await query(db, "SELECT indexname FROM pg_indexes WHERE indexname = 'posts_by_user'")).toHaveLength(1);
    const status = dbmate(r.root, url, ['status']);
    expect(dbmateStatus(status.stdout)).toEqual({ applied: [USERS, POSTS, INDEX], pending: [] });
    // dbmate's own rollback runs the down section of what dbguard applied.
    const down = dbmate(r.root, url, ['--no-dump-schema', 'rollback']);
    expect(down.status, down.stderr).toBe(0);
    expect(await versions(db)).toEqual(['20240101120000', '20240102093000']);
    expect(JSON.parse(r.dbguard(['status', '--json']).stdout)).toMatchObject({ schemaMigrations: { version: '20240102093000', applied: ['20240101120000', '20240102093000'] }, pending: [{ version: '20240103080000', filename: INDEX }] });
  });

  it('the rows a rollback would drop come back when dbguard migrate applies the migration again; verify and lint read dbmate\'s files', async () => {
    const { db, r } = await project({ format: 'dbmate' });
    expect(r.dbguard(['capture']).status).toBe(0);
    await query(db, "INSERT INTO users (email) VALUES ('ada@example.com'); INSERT INTO posts (user_id, state, body) VALUES (1, 'published', 'hello')");
    r.git('checkout', '-q', 'main');
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr).toBe(0);
    r.git('checkout', '-q', 'posts');
    expect(r.dbguard(['migrate']).status).toBe(0);
    expect(await query(db, 'SELECT u.email, p.state::text, p.body FROM posts p JOIN users u ON u.id = p.user_id')).toEqual([{ email: 'ada@example.com', state: 'published', body: 'hello' }]);
    const verify = r.dbguard(['verify']);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    // A migration added below main's top: dbmate applies it too, and lint says so.
    writeFileSync(join(r.root, 'db', 'migrations', '20240101000000_early.sql'), '-- migrate:up\nSELECT 1;\n\n-- migrate:down\nSELECT 1;\n');
    r.git('add', '-A');
    r.git('commit', '-q', '-m', 'early');
    const lint = r.dbguard(['lint', '--base', 'main']);
    expect(lint.status).toBe(1);
    expect(lint.stdout + lint.stderr).toContain('dbmate applies it too');
  });

  it('`dbguard run -- dbmate up` captures what the tool applied, and the checkout warns of it', async () => {
    const { url, r } = await project();
    r.git('checkout', '-q', 'main');
    expect(r.dbguard(['rollback', '--yes']).status).toBe(0);
    r.git('checkout', '-q', 'posts');
    const ran = r.dbguard(['run', '--', process.env.DBMATE_BIN ?? join(process.cwd(), 'node_modules/.bin/dbmate'), '--url', `${url}?sslmode=disable`, '--migrations-dir', 'db/migrations', '--no-dump-schema', 'up']);
    expect(ran.status, ran.stderr).toBe(0);
    const checkout = r.git('checkout', 'main');
    expect(checkout.stderr).toContain('this branch lacks 2 migrations the database has applied: 20240103080000, 20240102093000');
  });

  it('a version row written with other leading zeros than its file is two migrations to dbmate: a named error, not "clean"', async () => {
    const { db, url, r } = await project({ format: 'dbmate' });
    await query(db, "UPDATE schema_migrations SET version = '020240102093000' WHERE version = '20240102093000'");
    expect(dbmateStatus(dbmate(r.root, url, ['status']).stdout).pending).toEqual([POSTS]);
    const status = r.dbguard(['status']);
    expect(status.status).toBe(2);
    expect(status.stderr).toContain("error[TRACKING_ROW_INVALID] schema_migrations holds version '020240102093000', but the file is 20240102093000_add_posts.sql");
  });

  it('a branch with no migration file still reads dbmate\'s names (the format is remembered), and a file a tool would misread is named by lint and status', async () => {
    const { db, r } = await project();
    expect(r.dbguard(['capture']).status).toBe(0);
    r.git('checkout', '-q', '--orphan', 'empty');
    r.git('rm', '-q', '-r', '--cached', 'db');
    rmSync(join(r.root, 'db', 'migrations'), { recursive: true });
    // Told another format, the cache says what changed, not "corrupt".
    const other = r.dbguard(['check', '--offline'], { DBGUARD_FORMAT: 'golang-migrate' });
    expect(other.stderr + other.stdout).toContain("CACHE_OTHER_FORMAT] migration cache lists dbmate's migrations, but the format is now golang-migrate");
    const check = r.dbguard(['check']);
    expect(check.stderr + check.stdout).not.toContain('CACHE_CORRUPT');
    expect(check.status).toBe(1);
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr + rolled.stdout).toBe(0);
    expect(rolled.stdout + rolled.stderr).not.toContain('schema differs');
    expect(await versions(db)).toEqual([]);
    r.git('checkout', '-q', '-f', 'posts');
    writeFileSync(join(r.root, 'db', 'migrations', '20240104000000_bad.sql'), '-- migrate:up\nCREATE TABLE bad ();\n  -- migrate:down\nDROP TABLE bad;\n');
    r.git('add', '-A');
    r.git('commit', '-q', '-m', 'bad');
    const lint = r.dbguard(['lint', '--base', 'main']);
    expect(lint.status).toBe(1);
    expect(lint.stdout).toContain('invalid  db/migrations/20240104000000_bad.sql: line 3: "-- migrate:down" is not a marker dbmate reads');
    const status = r.dbguard(['status']);
    expect(status.stdout).toContain('invalid      20240104000000_bad.sql line 3');
  });

  it('a transaction:false section runs as dbmate runs it, one Exec: two CONCURRENTLY statements fail under dbguard as under dbmate', async () => {
    const { db, url, r } = await project({ format: 'dbmate' });
    const twice = '20240105000000_two_indexes.sql';
    writeFileSync(join(r.root, 'db', 'migrations', twice), '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY a_i ON users (email);\nCREATE INDEX CONCURRENTLY b_i ON users (id);\n\n-- migrate:down transaction:false\nDROP INDEX a_i;\nDROP INDEX b_i;\n');
    const theirs = dbmate(r.root, url, ['--no-dump-schema', 'up']);
    expect(theirs.stderr).toContain('cannot run inside a transaction block');
    const ours = r.dbguard(['migrate']);
    expect(ours.status).not.toBe(0);
    expect(ours.stderr).toContain('cannot run inside a transaction block');
    expect(await query(db, "SELECT count(*)::int AS n FROM pg_indexes WHERE indexname IN ('a_i', 'b_i')")).toEqual([{ n: 0 }]);
    expect(await versions(db)).not.toContain('20240105000000');
  });
});
