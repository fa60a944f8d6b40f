/**
 * Issue 12, §13: a rollback keeps the rows of the tables and columns its downs drop, and the same
 * migration applied again (dbguard migrate, or the project's migrator then capture) puts them back.
 * Real Postgres: the suite's server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { withSession } from '../../src/engine/session.js';
import { migratePending } from '../../src/engine/migrate.js';
import { silent } from '../../src/core/events.js';
import { createDatabase, Project, query, schemaVersion, usersMigration, type Migrations } from '../helpers/db.js';
import { capture, migrate, rollback } from '../helpers/engine.js';

const base: Migrations = usersMigration;
const branch: Migrations = {
  ...base,
  '2_orders.up.sql': 'CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users, total int NOT NULL);',
  '2_orders.down.sql': 'DROP TABLE orders;',
  '3_items.up.sql': 'CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id int NOT NULL REFERENCES orders, sku text);',
  '3_items.down.sql': 'DROP TABLE items;',
  '4_nickname.up.sql': 'ALTER TABLE users ADD COLUMN nickname text;',
  '4_nickname.down.sql': 'ALTER TABLE users DROP COLUMN nickname;',
};

const projects: Project[] = [];
afterAll(() => projects.forEach((p) => p.cleanup()));

async function branchWithData(config: Record<string, unknown> = {}) {
  const db = await createDatabase('stash');
  const project = new Project(db, { snapshots: false, ...config });
  projects.push(project);
  project.setMigrations(branch);
  await migrate(project.settings());
  await query(db, `INSERT INTO users (name, nickname) SELECT 'user ' || g, CASE WHEN g % 2 = 0 THEN 'nick ' || g END FROM generate_series(1, 50) g;
    INSERT INTO orders (user_id, total) SELECT 1 + g % 50, g FROM generate_series(1, 200) g;
    INSERT INTO items (order_id, sku) SELECT 1 + g % 200, 'sku-' || g FROM generate_series(1, 300) g;`);
  return { db, project };
}

const digest = async (db: string, sql: string) => (await query<{ d: string }>(db, `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS d FROM (${sql}) t`))[0]?.d;

describe('a rollback that keeps the rows (§13)', () => {
  it('A → B → A: tables and column values come back on migrate; rows added on B stay; sequences go on past the old ids', async () => {
    const { db, project } = await branchWithData();
    const before = {
      orders: await digest(db, 'SELECT * FROM orders'), items: await digest(db, 'SELECT * FROM items'),
      nicknames: await digest(db, 'SELECT id, nickname FROM users'),
    };
    project.setMigrations(base);
    const run = await rollback(project.settings());
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
    const kept = run.outcome?.kept.map((k) => `${k.kind} ${k.table}${k.column ? `.${k.column}` : ''}: ${k.rows}`);
    // Every row's nickname is kept, NULLs too (a re-added column's default must not replace them).
    expect(kept).toEqual(['column users.nickname: 50', 'table items: 300', 'table orders: 200']);
    expect(await query(db, "SELECT to_regclass('orders') AS t")).toEqual([{ t: null }]);

    // On B: a new user; the old users stay without the column.
    await query(db, "INSERT INTO users (name) VALUES ('made on B')");
    project.setMigrations(branch);
    const migrated = await migrate(project.settings());
    expect(migrated.restored?.map((r) => [r.object, r.restored, r.left])).toEqual([
      ['table public.orders', 200, 0], ['table public.items', 300, 0], ['column public.users.nickname', 50, 0],
    ]);
    expect(await digest(db, 'SELECT * FROM orders')).toBe(before.orders);
    expect(await digest(db, 'SELECT * FROM items')).toBe(before.items);
    expect(await digest(db, 'SELECT id, nickname FROM users WHERE id <= 50')).toBe(before.nicknames);
    expect(await query(db, "SELECT nickname FROM users WHERE name = 'made on B'")).toEqual([{ nickname: null }]);
    // serial and identity sequences were moved past the restored ids: new rows do not collide.
    const added = await query<{ id: number }>(db, 'INSERT INTO orders (user_id, total) VALUES (1, 1) RETURNING id');
    expect(added[0]?.id).toBe(201);
    const item = await query<{ id: string }>(db, "INSERT INTO items (order_id, sku) VALUES (1, 'new') RETURNING id");
    expect(item[0]?.id).toBe('301');
    // Restored entries leave the stash.
    expect(await query(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 0 }]);
  });

  it('the project\'s own migrator applies the migrations again: capture puts the rows back', async () => {
    const { db, project } = await branchWithData();
    const orders = await digest(db, 'SELECT * FROM orders');
    project.setMigrations(base);
    await rollback(project.settings());
    // What golang-migrate does: run the up files and set the version, with no dbguard involved.
    project.setMigrations(branch);
    await query(db, `${branch['2_orders.up.sql']} ${branch['3_items.up.sql']} ${branch['4_nickname.up.sql']} UPDATE schema_migrations SET version = 4, dirty = false;`);
    const captured = await capture(project.settings());
    expect(captured.restored.map((r) => r.object)).toEqual(['table public.orders', 'table public.items', 'column public.users.nickname']);
    expect(await digest(db, 'SELECT * FROM orders')).toBe(orders);
    expect(await query(db, 'SELECT count(nickname)::int AS n FROM users')).toEqual([{ n: 25 }]);
  });

  it('a changed up file (other sha256) restores nothing: the stash waits, listed', async () => {
    const { db, project } = await branchWithData();
    project.setMigrations(base);
    await rollback(project.settings());
    project.setMigrations({ ...branch, '4_nickname.up.sql': 'ALTER TABLE users ADD COLUMN nickname varchar(20);' });
    const migrated = await migrate(project.settings());
    expect(migrated.restored?.map((r) => r.object)).toEqual(['table public.orders', 'table public.items']);
    expect(await query(db, 'SELECT count(nickname)::int AS n FROM users')).toEqual([{ n: 0 }]);
    expect(await query(db, 'SELECT version::int, kind, column_name FROM _dbguard.stash')).toEqual([{ version: 4, kind: 'column', column_name: 'nickname' }]);
  });

  it('values that no longer fit the column type: what fits goes back, the rest is reported and kept; the migrate still finishes', async () => {
    const { db, project } = await branchWithData();
    project.setMigrations(base);
    await rollback(project.settings());
    // The stash holds values as text; one of them no longer casts back to int (as after a column's type changed).
    const [orders] = await query<{ id: number }>(db, "SELECT id::int FROM _dbguard.stash WHERE table_name = 'orders'");
    await query(db, `UPDATE _dbguard.stash_data_${orders?.id} SET total = 'n/a' WHERE id = '7'`);
    project.setMigrations(branch);
    const migrated = await migrate(project.settings());
    expect(await schemaVersion(db)).toEqual({ version: '4', dirty: false });
    const byObject = new Map(migrated.restored?.map((r) => [r.object, r]));
    // total is NOT NULL: the one row whose total does not fit stays in the stash; 199 come back.
    expect(byObject.get('table public.orders')).toMatchObject({ restored: 199 });
    expect(byObject.get('table public.orders')?.message).toMatch(/do not fit the column's new type: 1 rows stay in stash/);
    expect(await query(db, 'SELECT count(*)::int AS n FROM orders')).toEqual([{ n: 199 }]);
    // items reference that missing order: reported, kept, never a failed migrate.
    expect(byObject.get('table public.items')?.message).toMatch(/foreign key/);
    // The nicknames came back and left the stash; orders and items stay, each with its note.
    expect(await query(db, 'SELECT table_name, note IS NOT NULL AS noted FROM _dbguard.stash ORDER BY table_name')).toEqual([
      { table_name: 'items', noted: true }, { table_name: 'orders', noted: true },
    ]);
    expect(await query(db, 'SELECT count(nickname)::int AS n FROM users')).toEqual([{ n: 25 }]);
  });

  it('a table without a primary key: its dropped column cannot be matched, and says so', async () => {
    const db = await createDatabase('stash');
    const project = new Project(db, { snapshots: false });
    projects.push(project);
    const plain: Migrations = { '1_log.up.sql': 'CREATE TABLE log (line text);', '1_log.down.sql': 'DROP TABLE log;' };
    const more: Migrations = { ...plain, '2_level.up.sql': 'ALTER TABLE log ADD COLUMN level int;', '2_level.down.sql': 'ALTER TABLE log DROP COLUMN level;' };
    project.setMigrations(more);
    await migrate(project.settings());
    await query(db, "INSERT INTO log VALUES ('a', 1), ('b', 2)");
    project.setMigrations(plain);
    await rollback(project.settings());
    project.setMigrations(more);
    const migrated = await migrate(project.settings());
    expect(migrated.restored?.[0]?.message).toMatch(/no primary key to match rows by; its 2 values stay in stash/);
  });

  it('a down that makes a table of its own (a backup) does not make the next step keep that table', async () => {
    const db = await createDatabase('stash');
    const project = new Project(db, { snapshots: false });
    projects.push(project);
    const files: Migrations = {
      ...base,
      '2_notes.up.sql': 'CREATE TABLE notes (id serial PRIMARY KEY, body text);',
      '2_notes.down.sql': 'DROP TABLE notes;',
      '3_audit.up.sql': 'CREATE TABLE audit (id serial PRIMARY KEY, line text);',
      '3_audit.down.sql': 'CREATE TABLE audit_backup AS SELECT * FROM audit; DROP TABLE audit;',
    };
    project.setMigrations(files);
    await migrate(project.settings());
    await query(db, "INSERT INTO notes (body) VALUES ('n'); INSERT INTO audit (line) VALUES ('a'), ('b')");
    project.setMigrations(base);
    const run = await rollback(project.settings());
    expect(run.outcome?.kept.map((k) => `${k.version} ${k.table} ${k.rows}`)).toEqual(['3 audit 2', '2 notes 1']);
    expect(await query(db, 'SELECT count(*)::int AS n FROM audit_backup')).toEqual([{ n: 2 }]);
  });

  it('the stash bound: a step that would pass it is not rolled back, and the error says what to do', async () => {
    const { db, project } = await branchWithData({ stash: { maxBytes: 1024 } });
    project.setMigrations(base);
    await expect(rollback(project.settings())).rejects.toMatchObject({ code: 'STASH_FULL' });
    expect(await schemaVersion(db)).toEqual({ version: '4', dirty: false });
    expect(await query(db, 'SELECT count(*)::int AS n FROM users WHERE nickname IS NOT NULL')).toEqual([{ n: 25 }]);
  });

  it('"stash": false drops the rows as before', async () => {
    const { db, project } = await branchWithData({ stash: false });
    project.setMigrations(base);
    const run = await rollback(project.settings());
    expect(run.outcome?.kept).toEqual([]);
    project.setMigrations(branch);
    await withSession(project.settings(), { destructive: true }, (session) => migratePending(session, project.settings(), silent));
    expect(await query(db, 'SELECT count(*)::int AS n FROM orders')).toEqual([{ n: 0 }]);
  });
});
