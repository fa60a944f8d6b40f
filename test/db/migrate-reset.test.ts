import { afterEach, describe, expect, it } from 'vitest';
import { DbguardError } from '../../src/core/errors.js';
import { golangMigrateLockKey } from '../../src/db/advisory-lock.js';
import { forceVersion } from '../../src/engine/force.js';
import { resetDatabase } from '../../src/engine/reset.js';
import { withSession } from '../../src/engine/session.js';
import { readSchemaVersion } from '../../src/db/schema-migrations.js';
import { adminClient, createDatabase, Project, query, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { migrate, rollback } from '../helpers/engine.js';

const projects: Project[] = [];
async function project(files: Record<string, string>, config: Record<string, unknown> = {}) {
  const db = await createDatabase();
  const p = new Project(db, config);
  projects.push(p);
  p.setMigrations(files);
  return { p, db };
}
afterEach(() => projects.splice(0).forEach((p) => p.cleanup()));

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(() => 'no error', (e: unknown) => (e instanceof DbguardError ? e.code : String(e)));
}

describe('migrate', () => {
  it('applies pending migrations in version order, golang-migrate style, capturing down SQL', async () => {
    const { p, db } = await project({ ...tableMigration(2, 'two'), ...tableMigration(10, 'ten'), ...tableMigration(1, 'one') });
    const result = await migrate(p.settings());
    expect(result.applied.map((a) => a.version)).toEqual([1n, 2n, 10n]);
    expect(await schemaVersion(db)).toEqual({ version: '10', dirty: false });
    expect(await query(db, 'SELECT a.version::text AS version, filename, down_sql, length(up_sha256) AS sha FROM _dbguard.applied_migrations a ORDER BY a.version')).toEqual([
      { version: '1', filename: '1_create_one.up.sql', down_sql: 'DROP TABLE one;', sha: 64 },
      { version: '2', filename: '2_create_two.up.sql', down_sql: 'DROP TABLE two;', sha: 64 },
      { version: '10', filename: '10_create_ten.up.sql', down_sql: 'DROP TABLE ten;', sha: 64 },
    ]);
    expect((await migrate(p.settings())).applied).toEqual([]);
  });

  it('a failing transactional migration leaves the database clean at the previous version; fixed, migrate goes on (issue 9, item 5)', async () => {
    const files = { ...tableMigration(1, 'one'), '2_bad.up.sql': 'CREATE TABLE two (id int); SELECT nope;', '2_bad.down.sql': 'DROP TABLE two;', ...tableMigration(3, 'three') };
    const { p, db } = await project(files);
    const error = await migrate(p.settings()).catch((e: unknown) => e as DbguardError);
    expect(error).toMatchObject({ code: 'MIGRATION_FAILED', hint: 'fix 2_bad.up.sql, then run dbguard migrate', details: { version: '2', applied: ['1'], dirty: false } });
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
    expect(await query(db, "SELECT to_regclass('two') AS t")).toEqual([{ t: null }]);
    p.setMigrations({ ...files, '2_bad.up.sql': 'CREATE TABLE two (id int);' });
    expect((await migrate(p.settings())).applied.map((a) => a.version)).toEqual([2n, 3n]);
    expect(await schemaVersion(db)).toEqual({ version: '3', dirty: false });
  });

  it('an up that meets a table made outside it (by hand) says so, not only "fix the up file" (adversarial pass)', async () => {
    const { p, db } = await project({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two') });
    await query(db, 'CREATE TABLE two (made_by_hand int)');
    const error = await migrate(p.settings()).catch((e: unknown) => e as DbguardError);
    expect(error).toMatchObject({ code: 'MIGRATION_FAILED', details: { version: '2', applied: ['1'], dirty: false } });
    expect((error as DbguardError).hint).toBe('something of that name was made outside 2_create_two.up.sql (by hand, or by another tool): drop or rename it if it is not what 2_create_two.up.sql makes, otherwise fix 2_create_two.up.sql, then run dbguard migrate');
    expect(await query(db, 'SELECT made_by_hand FROM two')).toEqual([]);
  });

  it('a failing non-transactional migration is dirty; dbguard force clears it after the repair, and only then', async () => {
    const files = { ...tableMigration(1, 'one'), '2_idx.up.sql': '-- dbguard:no-transaction\nCREATE TABLE two (id int);\nCREATE INDEX CONCURRENTLY two_x ON two (nope);', '2_idx.down.sql': 'DROP TABLE two;' };
    const { p, db } = await project(files);
    const error = await migrate(p.settings()).catch((e: unknown) => e as DbguardError);
    expect(error).toMatchObject({ code: 'MIGRATION_FAILED', details: { version: '2', dirty: true } });
    expect((error as DbguardError).hint).toContain('dbguard force 2');
    expect(await schemaVersion(db)).toEqual({ version: '2', dirty: true });
    expect(await codeOf(migrate(p.settings()))).toBe('DIRTY');
    // The repair: undo what ran (the table), then record the version the schema is really at.
    await query(db, 'DROP TABLE two');
    const forced = await withSession(p.settings(), { destructive: true }, (s) => forceVersion(s, p.settings(), 1n));
    expect(forced).toMatchObject({ from: 2n, to: 1n });
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
    expect(await codeOf(withSession(p.settings(), { destructive: true }, (s) => forceVersion(s, p.settings(), 5n)))).toBe('USAGE');
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
  });

  it("holds golang-migrate's own lock: while the project's migrator has it, migrate gives up after its wait, changing nothing", async () => {
    // The key golang-migrate v4 takes (crc32 of schema, table, database × its salt), computed with Python's zlib.crc32.
    expect(golangMigrateLockKey('mydb')).toBe('2103762914');
    const { p, db } = await project(tableMigration(1, 'one'));
    const migrator = await adminClient(db);
    const wait = process.env.DBGUARD_LOCK_TIMEOUT_MS;
    try {
      await migrator.query('SELECT pg_advisory_lock($1::bigint)', [golangMigrateLockKey(db)]);
      process.env.DBGUARD_LOCK_TIMEOUT_MS = '300';
      const error = await migrate(p.settings()).catch((e: unknown) => e as DbguardError);
      expect(error).toMatchObject({ code: 'DB_BUSY' });
      expect((error as DbguardError).message).toContain("the project's migrator");
      expect(await query(db, "SELECT to_regclass('schema_migrations') AS t")).toEqual([{ t: null }]);
      await migrator.query('SELECT pg_advisory_unlock_all()');
      expect((await migrate(p.settings())).applied).toHaveLength(1);
    } finally {
      if (wait === undefined) delete process.env.DBGUARD_LOCK_TIMEOUT_MS;
      else process.env.DBGUARD_LOCK_TIMEOUT_MS = wait;
      await migrator.end();
    }
  });

  it("holds golang-migrate's key as its CLI derives it too (the URL path, with its \"/\"): both are in pg_locks during a slow down step", async () => {
    const files = { ...tableMigration(1, 'one'), '2_slow.up.sql': 'CREATE TABLE slow (id int);', '2_slow.down.sql': 'SELECT pg_sleep(1.5); DROP TABLE slow;' };
    const { p, db } = await project(files);
    await migrate(p.settings());
    p.setMigrations(tableMigration(1, 'one'));
    const running = rollback(p.settings(), { noSnapshot: true });
    const watcher = await adminClient(db);
    try {
      let seen: string[] = [];
      for (let i = 0; i < 40 && seen.length < 3; i++) {
        await new Promise((r) => setTimeout(r, 50));
        seen = (await watcher.query<{ key: string }>(`SELECT ((classid::bigint << 32) | objid::bigint)::text AS key FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows.map((r) => r.key);
      }
      expect(seen).toEqual(expect.arrayContaining([golangMigrateLockKey(db), golangMigrateLockKey(`/${db}`)]));
    } finally {
      await watcher.end();
    }
    await running;
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
    // And a migrator holding only the CLI's key keeps dbguard off.
    const migrator = await adminClient(db);
    const wait = process.env.DBGUARD_LOCK_TIMEOUT_MS;
    try {
      await migrator.query('SELECT pg_advisory_lock($1::bigint)', [golangMigrateLockKey(`/${db}`)]);
      process.env.DBGUARD_LOCK_TIMEOUT_MS = '300';
      p.setMigrations(files);
      expect(await migrate(p.settings()).catch((e: unknown) => e)).toMatchObject({ code: 'DB_BUSY' });
    } finally {
      if (wait === undefined) delete process.env.DBGUARD_LOCK_TIMEOUT_MS;
      else process.env.DBGUARD_LOCK_TIMEOUT_MS = wait;
      await migrator.end();
    }
  });

  it('a statement Postgres refuses inside a transaction (SQLSTATE 25001), unmarked and unrecognised, runs outside one, both ways', async () => {
    const files = {
      ...tableMigration(1, 'one'),
      '2_reindex.up.sql': 'CREATE TABLE two (id int PRIMARY KEY);\nREINDEX SCHEMA public;',
      '2_reindex.down.sql': 'REINDEX SCHEMA public;\nDROP TABLE two;',
    };
    const { p, db } = await project(files);
    expect((await migrate(p.settings())).applied.map((a) => a.version)).toEqual([1n, 2n]);
    expect(await schemaVersion(db)).toEqual({ version: '2', dirty: false });
    expect(await query(db, "SELECT to_regclass('two')::text AS t")).toEqual([{ t: 'two' }]);
    p.setMigrations(tableMigration(1, 'one'));
    const rolled = await rollback(p.settings());
    expect(rolled.outcome?.applied.map((a) => a.version)).toEqual([2n]);
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
    expect(await query(db, "SELECT to_regclass('two') AS t")).toEqual([{ t: null }]);
  });

  it('the schema record: a rollback reaching a recorded version compares with it; a migrate reaching one whose record differs says so (§11)', async () => {
    const files = { ...tableMigration(1, 'one'), ...tableMigration(2, 'two') };
    const { p } = await project(files);
    await migrate(p.settings());
    p.setMigrations(tableMigration(1, 'one'));
    const rolled = await rollback(p.settings());
    expect(rolled.outcome?.schema).toMatchObject({ version: 1n, state: 'recorded-now' });
    // 2 comes back edited: the schema at 2 is no longer the one recorded when the rollback left it.
    p.setMigrations({ ...files, '2_create_two.up.sql': 'CREATE TABLE two (id serial PRIMARY KEY, note text, extra int);' });
    const again = await migrate(p.settings());
    expect(again.schema).toMatchObject({ version: 2n, state: 'drift', diff: { added: ['column public.two.extra'] } });
    expect(again.schema?.message).toContain('an edited migration, or changes by hand');
    p.setMigrations(tableMigration(1, 'one'));
    expect((await rollback(p.settings())).outcome?.schema).toMatchObject({ version: 1n, state: 'as-recorded' });
  });

  it('refuses to migrate over migrations the branch lacks', async () => {
    const { p } = await project({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two') });
    await migrate(p.settings());
    p.setMigrations({ ...tableMigration(1, 'one'), ...tableMigration(3, 'three') });
    expect(await codeOf(migrate(p.settings()))).toBe('DATABASE_AHEAD');
  });

  it('reads and validates every file before changing anything', async () => {
    const { p, db } = await project({ ...tableMigration(1, 'one'), '2_bin.up.sql': 'CREATE TABLE x (id int);\u0000', '2_bin.down.sql': 'DROP TABLE x;' });
    expect(await codeOf(migrate(p.settings()))).toBe('MIGRATION_FILE_INVALID');
    expect(await query(db, "SELECT to_regclass('schema_migrations') AS t, to_regclass('one') AS o")).toEqual([{ t: null, o: null }]);
  });
});

describe('external databases', () => {
  it('connects with a password containing @:/?#% (percent-encoded in the URL) and never prints it', async () => {
    const db = await createDatabase();
    const password = 'p@ss:w/rd?#%';
    const admin = await adminClient();
    const role = `r_${db}`;
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await admin.query(`ALTER DATABASE ${db} OWNER TO ${role}`);
    } finally {
      await admin.end();
    }
    const p = new Project(db);
    projects.push(p);
    p.setMigrations(tableMigration(1, 'one'));
    const settings = p.settings({ DBGUARD_DATABASE_URL: urlFor(db, role, password) });
    await migrate(settings);
    expect(await withSession(settings, { destructive: false }, (s) => readSchemaVersion(s.client, s.format))).toEqual({ version: 1n, dirty: false });

    const wrong = p.settings({ DBGUARD_DATABASE_URL: urlFor(db, role, `${password}x`) });
    const error = await withSession(wrong, { destructive: false }, async () => null).catch((e: unknown) => e as DbguardError);
    expect(error).toMatchObject({ code: 'DB_AUTH_FAILED' });
    const shown = JSON.stringify({ message: (error as DbguardError).message, hint: (error as DbguardError).hint, details: (error as DbguardError).details });
    expect(shown).not.toContain(password);
    expect(shown).not.toContain(encodeURIComponent(password));
  });

  it('reports an unreachable host with DB_CONNECT_FAILED', async () => {
    const p = new Project('x');
    projects.push(p);
    const settings = p.settings({ DBGUARD_DATABASE_URL: 'postgres://u:secret@127.0.0.1:1/db' });
    expect(await codeOf(withSession(settings, { destructive: false }, async () => null))).toBe('DB_CONNECT_FAILED');
  });

  it('refuses destructive work on a non-local host unless allowRemote', async () => {
    const p = new Project('x');
    projects.push(p);
    const settings = p.settings({ DBGUARD_DATABASE_URL: 'postgres://u:secret@db.example.invalid:5432/db' });
    expect(await codeOf(withSession(settings, { destructive: true }, async () => null))).toBe('REMOTE_REFUSED');
    expect(await codeOf(resetDatabase(settings))).toBe('REMOTE_REFUSED');
    // With allowRemote the refusal goes away and the (unreachable) host is actually tried.
    const allowed = p.settings({ DBGUARD_DATABASE_URL: 'postgres://u:secret@db.example.invalid:5432/db', DBGUARD_ALLOW_REMOTE: 'true' });
    expect(await codeOf(withSession(allowed, { destructive: true }, async () => null))).toBe('DB_CONNECT_FAILED');
  });

  it('reset drops every schema the migrations made (not only public and _dbguard), so the next migrate works (issue 9, item 10)', async () => {
    const { p, db } = await project({ ...tableMigration(1, 'one'), '2_app.up.sql': 'CREATE SCHEMA app; CREATE TABLE app.things (id int);', '2_app.down.sql': 'DROP SCHEMA app CASCADE;' });
    await migrate(p.settings());
    await query(db, 'CREATE TABLE other_data (id int)');
    const result = await resetDatabase(p.settings());
    expect(result.kind).toBe('external');
    expect(await query(db, "SELECT nspname FROM pg_namespace WHERE nspname IN ('public', '_dbguard') ORDER BY 1")).toEqual([{ nspname: 'public' }]);
    expect(await query(db, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).toEqual([{ n: 0 }]);
    expect(result.removed).toEqual(expect.arrayContaining(['schema app', 'schema public', 'schema _dbguard']));
    expect(await query(db, "SELECT nspname FROM pg_namespace WHERE nspname = 'app'")).toEqual([]);
    expect((await migrate(p.settings())).applied.map((a) => a.version)).toEqual([1n, 2n]);
  });
});
