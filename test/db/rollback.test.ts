import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DbguardError } from '../../src/core/errors.js';
import { databaseRef } from '../../src/engine/identity.js';
import { createDatabase, Project, query, schemaSnapshot, schemaVersion, tableMigration } from '../helpers/db.js';
import { capture, migrate, plan, rollback } from '../helpers/engine.js';

const base = { ...tableMigration('000445', 'chat'), ...tableMigration('000446', 'a_one'), ...tableMigration('000447', 'a_two'), ...tableMigration('000448', 'a_three') };
const branchA = base;
const branchB = { ...tableMigration('000445', 'chat'), ...tableMigration('000449', 'b_only') };

const projects: Project[] = [];
async function project(files: Record<string, string>): Promise<{ p: Project; db: string }> {
  const db = await createDatabase();
  const p = new Project(db);
  projects.push(p);
  p.setMigrations(files);
  return { p, db };
}
afterEach(() => projects.splice(0).forEach((p) => p.cleanup()));

async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return error instanceof DbguardError ? error.code : `not a DbguardError: ${String(error)}`;
  }
  return 'no error';
}

describe('rollback on a real database', () => {
  it('worked example: A applied 445–448, B has 445 → rolls back 448, 447, 446 and matches a fresh migrate of B', async () => {
    const { p, db } = await project(branchA);
    await migrate(p.settings());
    await query(db, "INSERT INTO chat (note) VALUES ('kept 1'), ('kept 2')");
    expect(await schemaVersion(db)).toEqual({ version: '448', dirty: false });

    p.setMigrations(branchB);
    const planned = await plan(p.settings());
    expect(planned.kind === 'rollback' && planned.steps.map((s) => [s.version, s.after])).toEqual([[448n, 447n], [447n, 446n], [446n, 445n]]);

    const run = await rollback(p.settings());
    expect(run.outcome?.applied.map((s) => s.version)).toEqual([448n, 447n, 446n]);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
    expect(await query(db, 'SELECT version::text FROM _dbguard.applied_migrations ORDER BY 1')).toEqual([{ version: '445' }]);
    expect(await query(db, 'SELECT note FROM chat ORDER BY id')).toEqual([{ note: 'kept 1' }, { note: 'kept 2' }]);
    const cache = JSON.parse(readFileSync(databaseRef(p.settings()).paths.cacheFile, 'utf8'));
    expect(cache.migrations).toEqual({ 445: '000445_create_chat.up.sql' });
    expect(cache.downCaptured).toEqual(['445']);

    // Then B's own migration applies, and the schema equals a fresh database migrated on B.
    await migrate(p.settings());
    const fresh = await project(branchB);
    await migrate(fresh.p.settings());
    expect(await schemaSnapshot(db)).toEqual(await schemaSnapshot(fresh.db));
    expect(await schemaVersion(db)).toEqual({ version: '449', dirty: false });
  });
});

describe('refusals change nothing', () => {
  it('refuses a dirty database', async () => {
    const { p, db } = await project(branchA);
    await migrate(p.settings());
    await query(db, 'UPDATE schema_migrations SET dirty = true');
    p.setMigrations(branchB);
    expect(await plan(p.settings())).toMatchObject({ kind: 'refuse', reason: 'DIRTY', fix: expect.stringMatching(/^dbguard force 448 /) });
    const before = await schemaSnapshot(db);
    expect((await rollback(p.settings())).outcome).toBeNull();
    expect(await schemaSnapshot(db)).toEqual(before);
  });

  it('refuses an untracked version (applied by someone else, file gone, nothing in git)', async () => {
    const { p, db } = await project(base);
    await migrate(p.settings());
    await query(db, 'CREATE TABLE mystery (id int); UPDATE schema_migrations SET version = 900');
    expect(await plan(p.settings())).toMatchObject({ kind: 'refuse', reason: 'UNTRACKED', versions: [900n] });
  });

  it('rolls back interleaved phantoms out of order, keeping the on-disk migration above them and its rows', async () => {
    const { p, db } = await project(branchA);
    await migrate(p.settings());
    await query(db, "INSERT INTO a_two (note) VALUES ('kept')");
    const { ['000446_create_a_one.up.sql']: _u, ['000446_create_a_one.down.sql']: _d, ['000448_create_a_three.up.sql']: _u8, ['000448_create_a_three.down.sql']: _d8, ...kept } = branchA;
    p.setMigrations(kept);
    const planned = await plan(p.settings());
    expect(planned.kind === 'rollback' && planned.steps.map((s) => [s.version, s.after, s.outOfOrder])).toEqual([[448n, 447n, false], [446n, 447n, true]]);
    await rollback(p.settings());
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
    expect(await query(db, 'SELECT note FROM a_two')).toEqual([{ note: 'kept' }]);
    const fresh = await project(kept);
    await migrate(fresh.p.settings());
    expect(await schemaSnapshot(db)).toEqual(await schemaSnapshot(fresh.db));
    expect(await plan(p.settings())).toEqual({ kind: 'clean', current: 447n });
  });

  it('refuses when down SQL is found nowhere', async () => {
    const { p, db } = await project(branchA);
    await migrate(p.settings());
    await query(db, 'UPDATE _dbguard.applied_migrations SET down_sql = NULL WHERE version = 447');
    p.setMigrations(branchB);
    expect(await plan(p.settings())).toMatchObject({ kind: 'refuse', reason: 'NO_DOWN_SQL', versions: [447n] });
  });

  it('refuses a malformed migrations folder before touching the database', async () => {
    const { p } = await project({ ...branchB, '12_x.UP.sql': 'SELECT 1' });
    expect(await errorCode(rollback(p.settings()))).toBe('MIGRATION_NAME_INVALID');
  });
});

describe('failures and concurrency', () => {
  it('stops at a failing down step, leaving the last good version and nothing else changed', async () => {
    const { p, db } = await project(branchA);
    await migrate(p.settings());
    await query(db, "UPDATE _dbguard.applied_migrations SET down_sql = 'DROP TABLE a_two; SELECT no_such_column FROM chat;' WHERE version = 447");
    p.setMigrations(branchB);
    const error = await rollback(p.settings()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DbguardError);
    expect((error as DbguardError).code).toBe('STEP_FAILED');
    expect((error as DbguardError).details).toMatchObject({ version: '447', completed: ['448'], databaseVersion: '447' });
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
    const tables = await query<{ t: string }>(db, "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    expect(tables.map((r) => r.t)).toEqual(['a_one', 'a_two', 'chat', 'schema_migrations']);
    expect(await query(db, 'SELECT version::text FROM _dbguard.applied_migrations ORDER BY 1')).toEqual([{ version: '445' }, { version: '446' }, { version: '447' }]);
  });

  it('runs a non-transactional down step with the dirty marker and ends clean', async () => {
    const { p, db } = await project({ ...base, '000449_idx.up.sql': 'CREATE INDEX CONCURRENTLY chat_note ON chat (note);', '000449_idx.down.sql': 'DROP INDEX CONCURRENTLY chat_note;' });
    await migrate(p.settings());
    p.setMigrations(base);
    const run = await rollback(p.settings());
    expect(run.plan.kind === 'rollback' && run.plan.steps[0]?.transactional).toBe(false);
    expect(await schemaVersion(db)).toEqual({ version: '448', dirty: false });
    expect(await query(db, "SELECT 1 FROM pg_indexes WHERE indexname = 'chat_note'")).toEqual([]);
  });

  it('lets exactly one of two concurrent rollbacks apply the plan', async () => {
    const { p, db } = await project(branchA);
    await migrate(p.settings());
    p.setMigrations(branchB);
    const runs = await Promise.all([rollback(p.settings()), rollback(p.settings())]);
    const applied = runs.map((r) => r.outcome?.applied.length ?? 0).sort();
    expect(applied).toEqual([0, 3]);
    expect(runs.map((r) => r.plan.kind).sort()).toEqual(['clean', 'rollback']);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });

  it('handles timestamp versions (next lower applied version, not version - 1)', async () => {
    const files = { ...tableMigration('20240101120000', 'ts_a'), ...tableMigration('20240215093000', 'ts_b'), ...tableMigration('20240301000000', 'ts_c') };
    const { p, db } = await project(files);
    await migrate(p.settings());
    p.setMigrations(tableMigration('20240101120000', 'ts_a'));
    const run = await rollback(p.settings());
    expect(run.plan.kind === 'rollback' && run.plan.steps.map((s) => s.after)).toEqual([20240215093000n, 20240101120000n]);
    expect(await schemaVersion(db)).toEqual({ version: '20240101120000', dirty: false });
  });

  it('captures what the project\'s own migrator applied, then can roll it back', async () => {
    const { p, db } = await project(branchA);
    // The project's migrator applied 445–448 (dbguard never saw them): tables plus golang-migrate's row.
    await query(db, 'CREATE TABLE chat (id serial PRIMARY KEY, note text); CREATE TABLE a_one (id serial PRIMARY KEY, note text); CREATE TABLE a_two (id serial PRIMARY KEY, note text); CREATE TABLE a_three (id serial PRIMARY KEY, note text)');
    await query(db, 'CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (448, false)');
    const captured = await capture(p.settings());
    expect(captured.captured).toEqual([445n, 446n, 447n, 448n]);
    expect([...captured.cache.migrations.keys()]).toEqual([445n, 446n, 447n, 448n]);
    p.setMigrations(branchB);
    await rollback(p.settings());
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });
});
