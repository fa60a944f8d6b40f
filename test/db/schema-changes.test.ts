/**
 * Issue 11, §11: the schema record per applied migration. Event triggers, there only while dbguard
 * runs, record what each up and down added and removed; a rollback then names the migration whose
 * down left something, even where no whole-schema record exists for the version it reached.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { leftByDown } from '../../src/core/schema-changes.js';
import { createDatabase, Project, query, usersMigration, type Migrations } from '../helpers/db.js';
import { migrate, rollback } from '../helpers/engine.js';

const projects: Project[] = [];
afterAll(() => projects.forEach((p) => p.cleanup()));

const base: Migrations = usersMigration;
const branch: Migrations = {
  ...base,
  '2_audit.up.sql': 'CREATE TABLE audit (id serial PRIMARY KEY, line text);',
  // A down that keeps a backup on its way out: it leaves a table the up never made.
  '2_audit.down.sql': 'CREATE TABLE audit_backup AS SELECT * FROM audit; DROP TABLE audit;',
  '3_index.up.sql': 'CREATE INDEX users_name ON users (name); CREATE OR REPLACE VIEW named_users AS SELECT id, name FROM users;',
  // Forgets the index; the view goes.
  '3_index.down.sql': 'DROP VIEW named_users;',
};

async function project() {
  const db = await createDatabase('rec');
  const p = new Project(db, { snapshots: false });
  projects.push(p);
  return { db, p };
}

describe('the per-migration schema record (§11)', () => {
  it('records each up and down while dbguard runs, and nothing of anyone else\'s DDL; the triggers are gone after', async () => {
    const { db, p } = await project();
    p.setMigrations(branch);
    await migrate(p.settings());
    const ups = await query<{ version: number; action: string; object_type: string; object: string }>(db,
      "SELECT version::int, action, object_type, object FROM _dbguard.schema_changes WHERE direction = 'up' AND action <> 'ran' AND object_type IN ('table', 'index', 'view') ORDER BY 1, 3, 4");
    expect(ups).toEqual([
      { version: 1, action: 'added', object_type: 'index', object: 'public.users_pkey' },
      { version: 1, action: 'added', object_type: 'table', object: 'public.users' },
      { version: 2, action: 'added', object_type: 'index', object: 'public.audit_pkey' },
      { version: 2, action: 'added', object_type: 'table', object: 'public.audit' },
      { version: 3, action: 'added', object_type: 'index', object: 'public.users_name' },
      { version: 3, action: 'added', object_type: 'view', object: 'public.named_users' },
    ]);
    expect(await query(db, "SELECT evtname FROM pg_event_trigger WHERE evtname LIKE 'dbguard%'")).toEqual([]);
    const before = await query<{ n: number }>(db, 'SELECT count(*)::int AS n FROM _dbguard.schema_changes');
    await query(db, 'CREATE TABLE made_by_the_app (id int)');
    expect(await query(db, 'SELECT count(*)::int AS n FROM _dbguard.schema_changes')).toEqual(before);
  });

  it('a rollback names the migration whose down left something, with or without a whole-schema record for where it ends', async () => {
    const { db, p } = await project();
    p.setMigrations(branch);
    await migrate(p.settings());
    await query(db, "INSERT INTO audit (line) VALUES ('x')");
    // To version 2: no whole-schema record was taken there (migrate started at nothing applied).
    p.setMigrations({ ...base, '2_audit.up.sql': branch['2_audit.up.sql'] as string, '2_audit.down.sql': branch['2_audit.down.sql'] as string });
    const first = await rollback(p.settings());
    expect(first.outcome?.schema).toMatchObject({ state: 'drift', message: 'schema at 2: index public.users_name left by the down of 3' });
    // On to version 1: its down left a backup table.
    p.setMigrations(base);
    const second = await rollback(p.settings());
    expect(second.outcome?.schema.state).toBe('drift');
    expect(second.outcome?.schema.message).toContain('table public.audit_backup left by the down of 2');
  });

  it('the pure comparison: CREATE OR REPLACE on both sides is a change; an unrecorded side says nothing', () => {
    const view = { type: 'view', object: 'public.v' };
    expect(leftByDown({ up: [{ action: 'added', ...view }], down: [{ action: 'added', ...view }] })).toEqual([]);
    expect(leftByDown({ up: [{ action: 'added', ...view }], down: [{ action: 'ran', type: 'step', object: '' }] })).toEqual(['view public.v']);
    expect(leftByDown({ up: [{ action: 'added', ...view }], down: [] })).toBeNull();
    expect(leftByDown({ up: [{ action: 'added', type: 'table', object: 'public.t' }], down: [{ action: 'removed', type: 'table', object: 'public.t' }, { action: 'added', type: 'table', object: 'public.t_backup' }] }))
      .toEqual(['table public.t_backup']);
  });
});
