/**
 * Issue 19, sql-migrate through the real tool (Debian's): ids are whole file names, holes are applied,
 * StatementBegin/End and notransaction; after dbguard's rollback and migrate, sql-migrate's own status
 * and up agree.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, urlFor } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';
import { hasSqlMigrate, sqlMigrate, sqlMigrateStatus } from '../helpers/tools.js';

const USERS = '1_create_users.sql';
const AUDIT = '2_audit_trigger.sql';
const INDEX = '3_index_users_concurrently.sql';

const files: Record<string, string> = {
  [USERS]: `-- +migrate Up
-- the accounts
CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);

-- +migrate Down
DROP TABLE users;
`,
  [AUDIT]: `-- +migrate Up
CREATE TABLE audit (id bigserial PRIMARY KEY, note text);
-- +migrate StatementBegin
CREATE FUNCTION note_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit (note) VALUES ('user ' || NEW.id);
  RETURN NEW;
END;
$$;
-- +migrate StatementEnd
CREATE TRIGGER users_audit AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION note_user();

-- +migrate Down
DROP TRIGGER users_audit ON users;
DROP FUNCTION note_user();
DROP TABLE audit;
`,
  [INDEX]: `-- +migrate Up notransaction
CREATE INDEX CONCURRENTLY users_by_email ON users (email);

-- +migrate Down notransaction
DROP INDEX CONCURRENTLY users_by_email;
`,
};

/** A dump of the database after 1, as teams keep one to set up a dev database. */
const SCHEMA_DUMP = `CREATE TABLE public.gorp_migrations (id text NOT NULL PRIMARY KEY, applied_at timestamp with time zone);
CREATE TABLE public.users (id bigserial PRIMARY KEY, email text NOT NULL);
INSERT INTO public.gorp_migrations (id, applied_at) VALUES ('1_create_users.sql', now());
`;

let repo: GitRepo | undefined;
afterEach(() => repo?.cleanup());

const pick = (names: readonly string[]) => Object.fromEntries(names.map((name) => [name, files[name] as string]));

async function project() {
  const db = await createDatabase();
  const url = urlFor(db);
  repo = GitRepo.create({ nodeModules: false });
  const r = repo;
  r.write('dbguard.config.json', JSON.stringify({ database: { url } }));
  r.write('.gitignore', 'node_modules/\n.dbguard/\ndbconfig.yml\n');
  r.commitMigrations(pick([USERS]), 'users');
  expect(r.dbguard(['hooks', 'install']).status).toBe(0);
  r.git('checkout', '-q', '-b', 'audit');
  r.commitMigrations(pick([USERS, AUDIT, INDEX]), 'audit');
  await query(db, SCHEMA_DUMP);
  const up = sqlMigrate(r.root, url, 'up');
  expect(up.status, up.stderr + up.stdout).toBe(0);
  return { db, url, r };
}

const ids = async (db: string) => (await query<{ id: string }>(db, 'SELECT id FROM gorp_migrations ORDER BY id')).map((row) => row.id);

describe.skipIf(!hasSqlMigrate)('sql-migrate, with the real sql-migrate', () => {
  it('capture, the checkout warning, rollback of a StatementBegin block and a notransaction index — and sql-migrate agrees', async () => {
    const { db, url, r } = await project();
    expect(await ids(db)).toEqual([USERS, AUDIT, INDEX]);
    expect(r.dbguard(['capture']).status).toBe(0);
    const checkout = r.git('checkout', 'main');
    expect(checkout.stderr).toContain('this branch lacks 2 migrations the database has applied: 3, 2');
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr + rolled.stdout).toBe(0);
    expect(await ids(db)).toEqual([USERS]);
    expect(await query(db, "SELECT to_regclass('audit') AS t, to_regclass('users_by_email') AS i, to_regprocedure('note_user()') AS f")).toEqual([{ t: null, i: null, f: null }]);
    const status = sqlMigrate(r.root, url, 'status');
    expect(sqlMigrateStatus(status.stdout)).toEqual({ applied: [USERS], pending: [] });
    const up = sqlMigrate(r.root, url, 'up');
    expect(up.stdout).toContain('Applied 0 migrations');
    // undo puts back the snapshot the rollback took: sql-migrate sees its three rows again.
    const undo = r.dbguard(['undo']);
    expect(undo.status, undo.stderr + undo.stdout).toBe(0);
    expect(await ids(db)).toEqual([USERS, AUDIT, INDEX]);
    expect(r.dbguard(['check']).status).toBe(1); // main lacks them again, as before the rollback
  });

  it('dbguard migrate records what sql-migrate records, and applies a hole as sql-migrate does', async () => {
    const { db, url, r } = await project();
    r.git('checkout', '-q', 'main');
    expect(r.dbguard(['rollback', '--yes']).status).toBe(0);
    r.git('checkout', '-q', 'audit');
    const migrated = r.dbguard(['migrate']);
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(await ids(db)).toEqual([USERS, AUDIT, INDEX]);
    await query(db, "INSERT INTO users (email) VALUES ('a@example.com')");
    expect(await query(db, 'SELECT note FROM audit')).toEqual([{ note: 'user 1' }]);
    const status = sqlMigrate(r.root, url, 'status');
    expect(sqlMigrateStatus(status.stdout)).toEqual({ applied: [USERS, AUDIT, INDEX], pending: [] });
    // sql-migrate's own down of what dbguard applied.
    const down = sqlMigrate(r.root, url, 'down');
    expect(down.status, down.stderr + down.stdout).toBe(0);
    expect(await ids(db)).toEqual([USERS, AUDIT]);
    // A hole below the newest applied (3 applied again, 2 undone by hand): sql-migrate applies it (ToCatchup), so dbguard does.
    expect(sqlMigrate(r.root, url, 'up').status).toBe(0);
    await query(db, `DELETE FROM gorp_migrations WHERE id = '${AUDIT}'; DROP TRIGGER users_audit ON users; DROP FUNCTION note_user(); DROP TABLE audit`);
    const status2 = JSON.parse(r.dbguard(['status', '--json']).stdout);
    expect(status2).toMatchObject({ schemaMigrations: { version: '3', applied: ['1', '3'] }, outOfOrder: [{ version: '2', filename: AUDIT }] });
    expect(r.dbguard(['migrate']).status).toBe(0);
    expect(await ids(db)).toEqual([USERS, AUDIT, INDEX]);
    expect(sqlMigrateStatus(sqlMigrate(r.root, url, 'status').stdout)).toEqual({ applied: [USERS, AUDIT, INDEX], pending: [] });
  });

  it('with no migration file in the folder yet, the tracking table tells the format', async () => {
    const db = await createDatabase();
    repo = GitRepo.create({ nodeModules: false });
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    await query(db, SCHEMA_DUMP);
    const status = repo.dbguard(['status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ schemaMigrations: { version: '1', dirty: false, applied: ['1'] }, plan: { kind: 'refuse', reason: 'NO_DOWN_SQL' } });
  });

  it('a file renamed on a branch is a new id to sql-migrate: back on main its down comes from git history', async () => {
    const { db, url, r } = await project();
    expect(r.dbguard(['capture']).status).toBe(0);
    r.git('checkout', '-q', '-b', 'renamed');
    r.git('mv', `migrations/${AUDIT}`, 'migrations/2_audit_trigger_renamed.sql');
    r.git('commit', '-q', '-m', 'rename');
    // The old id has no file here: sql-migrate refuses ("unknown migration in database"); dbguard rolls it back.
    expect(sqlMigrate(r.root, url, 'up').stdout).toContain('unknown migration in database');
    expect(JSON.parse(r.dbguard(['status', '--json']).stdout)).toMatchObject({ phantoms: [{ version: '2', filename: AUDIT }], outOfOrder: [{ version: '2', filename: '2_audit_trigger_renamed.sql' }] });
    expect(r.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(JSON.parse(r.dbguard(['status', '--json']).stdout)).toMatchObject({ phantoms: [], outOfOrder: [{ version: '2', filename: '2_audit_trigger_renamed.sql' }] });
    expect(sqlMigrate(r.root, url, 'up').stdout).toContain('Applied 1 migration');
    expect(await ids(db)).toEqual([USERS, '2_audit_trigger_renamed.sql', INDEX]);
    // Back on main, the renamed file (applied by sql-migrate, never captured) has its down in git history.
    r.git('checkout', '-q', 'main');
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr + rolled.stdout).toBe(0);
    expect(await ids(db)).toEqual([USERS]);
  });
});
