import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { buildCatalog } from '../../src/core/catalog.js';
import { commonAncestor, planRollback, rollbackCandidates, type DownSql, type OnDiskMigration, type PlanInput } from '../../src/core/plan.js';
import { cacheOf, catalogOf, downSqlFromTracking, filesFor, trackedOf } from '../helpers/core.js';

function input(overrides: Partial<PlanInput>): PlanInput {
  return {
    catalog: catalogOf(445),
    current: { version: 445n, dirty: false },
    tracked: trackedOf(445),
    cache: cacheOf([445]),
    downSql: new Map(),
    ...overrides,
  };
}

describe('planRollback', () => {
  it('worked example: tracking 445–448, disk 445, schema_migrations 448 → roll back 448, 447, 446; ends at 445', () => {
    const base = input({ current: { version: 448n, dirty: false }, tracked: trackedOf(445, 446, 447, 448), cache: cacheOf([445, 446, 447, 448]) });
    expect(rollbackCandidates(base).map((c) => c.version)).toEqual([448n, 447n, 446n]);
    const plan = planRollback({ ...base, downSql: downSqlFromTracking(446, 447, 448) });
    expect(plan).toEqual({
      kind: 'rollback',
      from: 448n,
      to: 445n,
      steps: [
        { version: 448n, filename: '448_m448.up.sql', kind: 'down', downSql: 'DROP TABLE t448;', origin: 'tracking-table', after: 447n, transactional: true, outOfOrder: false },
        { version: 447n, filename: '447_m447.up.sql', kind: 'down', downSql: 'DROP TABLE t447;', origin: 'tracking-table', after: 446n, transactional: true, outOfOrder: false },
        { version: 446n, filename: '446_m446.up.sql', kind: 'down', downSql: 'DROP TABLE t446;', origin: 'tracking-table', after: 445n, transactional: true, outOfOrder: false },
      ],
    });
    expect(commonAncestor(plan)).toBe(445n);
  });

  it('is clean when nothing is applied', () => {
    expect(planRollback(input({ current: null }))).toEqual({ kind: 'clean', current: null });
  });

  it('is clean when every applied version is on disk, even with pending files', () => {
    expect(planRollback(input({ catalog: catalogOf(445, 446) }))).toEqual({ kind: 'clean', current: 445n });
  });

  it('refuses a dirty database and points at force (after a repair) before reset', () => {
    const plan = planRollback(input({ current: { version: 446n, dirty: true } }));
    expect(plan).toMatchObject({ kind: 'refuse', reason: 'DIRTY', versions: [446n] });
    expect(plan.kind === 'refuse' && plan.fix).toMatch(/^dbguard force 446 .*dbguard reset only as a last resort$/);
  });

  it('refuses an untracked schema_migrations version that is not on disk', () => {
    const plan = planRollback(input({ current: { version: 500n, dirty: false } }));
    expect(plan).toMatchObject({ kind: 'refuse', reason: 'UNTRACKED', versions: [500n] });
  });

  it('rolls back an untracked version whose down SQL was recovered from git history', () => {
    const recovered: DownSql = { version: 500n, filename: '500_x.up.sql', sql: 'DROP TABLE x;', origin: 'git-history', ref: 'abc123' };
    const base = input({ current: { version: 500n, dirty: false } });
    expect(rollbackCandidates(base)).toEqual([{ version: 500n, filename: undefined }]);
    const plan = planRollback({ ...base, downSql: new Map([[500n, recovered]]) });
    expect(plan).toMatchObject({ kind: 'rollback', to: 445n, steps: [{ version: 500n, filename: '500_x.up.sql', origin: 'git-history', ref: 'abc123', after: 445n }] });
  });

  it('does not call an untracked version that is on disk a conflict', () => {
    expect(planRollback(input({ current: { version: 446n, dirty: false }, catalog: catalogOf(445, 446) }))).toEqual({ kind: 'clean', current: 446n });
  });

  it('rolls back an interleaved phantom out of order, keeping the newer on-disk migration applied (448 and 446 missing, 447 present)', () => {
    const plan = planRollback(input({
      current: { version: 448n, dirty: false }, tracked: trackedOf(445, 446, 447, 448), catalog: catalogOf(445, 447),
      downSql: downSqlFromTracking(446, 448),
    }));
    expect(plan.kind === 'rollback' && plan.steps.map((s) => [s.version, s.after, s.outOfOrder])).toEqual([[448n, 447n, false], [446n, 447n, true]]);
    expect(plan).toMatchObject({ from: 448n, to: 447n });
  });

  it('prepares a rewind-and-replay for an out-of-order down, with the version each of its steps leaves', () => {
    const onDisk = new Map<bigint, OnDiskMigration>([
      [447n, { filename: '447_m447.up.sql', upSql: 'CREATE VIEW v447 AS SELECT 1;', upSha256: 'a'.repeat(64), downSql: 'DROP VIEW v447;' }],
      [448n, { filename: '448_m448.up.sql', upSql: 'CREATE TABLE t448 (id int);', upSha256: 'b'.repeat(64), downSql: 'DROP TABLE t448;' }],
    ]);
    const base = input({ current: { version: 448n, dirty: false }, tracked: trackedOf(445, 446, 447, 448), catalog: catalogOf(445, 447, 448), downSql: downSqlFromTracking(446) });
    const plan = planRollback({ ...base, onDisk });
    expect(plan.kind === 'rollback' && plan.steps[0]?.fallback?.map((f) => [f.kind, f.version, f.after])).toEqual([
      ['replay-down', 448n, 447n], ['replay-down', 447n, 446n], ['down', 446n, 445n], ['replay-up', 447n, 447n], ['replay-up', 448n, 448n],
    ]);
    // No down SQL stored for one of them: no replay through it.
    const noDown = new Map(onDisk);
    noDown.set(448n, { ...onDisk.get(448n)!, downSql: null });
    const without = planRollback({ ...base, onDisk: noDown });
    expect(without.kind === 'rollback' && without.steps[0]?.fallback).toBeUndefined();
    expect(without).toMatchObject({ kind: 'rollback', steps: [{ version: 446n, outOfOrder: true }] });
  });

  it('rolls back a lower phantom under an on-disk top without touching the top (a branch that merged main)', () => {
    const plan = planRollback(input({ current: { version: 447n, dirty: false }, tracked: trackedOf(445, 446, 447), catalog: catalogOf(445, 447), downSql: downSqlFromTracking(446) }));
    expect(plan).toMatchObject({ kind: 'rollback', from: 447n, to: 447n, steps: [{ version: 446n, after: 447n, outOfOrder: true }] });
  });

  it('covers untracked intermediates (applied by the project\'s own migrator), not just the top version', () => {
    const untracked = new Map([[446n, '446_m446.up.sql'], [447n, '447_m447.up.sql'], [448n, '448_m448.up.sql']]);
    const base = input({ current: { version: 448n, dirty: false }, tracked: trackedOf(445), untracked });
    expect(rollbackCandidates(base).map((c) => [c.version, c.filename])).toEqual([[448n, '448_m448.up.sql'], [447n, '447_m447.up.sql'], [446n, '446_m446.up.sql']]);
    const partial = planRollback({ ...base, downSql: downSqlFromTracking(448) });
    expect(partial).toMatchObject({ kind: 'refuse', reason: 'NO_DOWN_SQL', versions: [447n, 446n] });
    const plan = planRollback({ ...base, downSql: downSqlFromTracking(446, 447, 448) });
    expect(plan.kind === 'rollback' && plan.steps.map((s) => [s.version, s.after])).toEqual([[448n, 447n], [447n, 446n], [446n, 445n]]);
  });

  it('makes a no-op step of a data-only migration with an empty down file, and refuses a schema-changing one', () => {
    const downSql = downSqlFromTracking(446, 447);
    downSql.set(447n, { ...(downSql.get(447n) as DownSql), sql: '-- no-op\n' });
    const base = input({ current: { version: 447n, dirty: false }, tracked: trackedOf(445, 446, 447), downSql });
    const backfill = planRollback({ ...base, upSql: new Map([[447n, "UPDATE users SET plan = 'free';"]]) });
    expect(backfill.kind === 'rollback' && backfill.steps[0]).toMatchObject({ version: 447n, kind: 'noop', downSql: '', note: 'data changes kept', after: 446n });
    const unknownUp = planRollback(base);
    expect(unknownUp).toMatchObject({ kind: 'refuse', reason: 'IRREVERSIBLE', versions: [447n] });
    const schema = planRollback({ ...base, upSql: new Map([[447n, 'CREATE TABLE audit_backup AS SELECT 1;']]) });
    expect(schema).toMatchObject({ kind: 'refuse', reason: 'IRREVERSIBLE', versions: [447n] });
    expect(schema.kind === 'refuse' && schema.fix).toMatch(/^dbguard rollback --keep-irreversible/);
    const kept = planRollback({ ...base, upSql: new Map([[447n, 'CREATE TABLE audit_backup AS SELECT 1;']]), keepIrreversible: true });
    expect(kept.kind === 'rollback' && kept.steps[0]).toMatchObject({ kind: 'noop', note: 'schema left behind (--keep-irreversible)' });
  });

  it('says when a fixed down file replaced the stored copy', () => {
    const downSql = downSqlFromTracking(446);
    downSql.set(446n, { ...(downSql.get(446n) as DownSql), origin: 'git-history', changedSinceApplied: true });
    const plan = planRollback(input({ current: { version: 446n, dirty: false }, tracked: trackedOf(445, 446), downSql }));
    expect(plan.kind === 'rollback' && plan.steps[0]?.note).toBe('down SQL changed since applied');
  });

  it('refuses when a step has no down SQL, naming exactly those versions', () => {
    const plan = planRollback(input({
      current: { version: 448n, dirty: false }, tracked: trackedOf(445, 446, 447, 448), downSql: downSqlFromTracking(448, 446),
    }));
    expect(plan).toMatchObject({ kind: 'refuse', reason: 'NO_DOWN_SQL', versions: [447n] });
  });

  it.each([
    ['an empty down file (as `migrate create` writes it), its up SQL unknown', '  -- nothing yet\n', 'IRREVERSIBLE'],
    ['down SQL that drops dbguard\'s schema', 'DROP TABLE t447; DROP SCHEMA _dbguard CASCADE;', 'UNSAFE_DOWN_SQL'],
    ['down SQL that edits the tracking table through a quoted name', 'DELETE FROM "_dbguard".applied_migrations;', 'UNSAFE_DOWN_SQL'],
  ])('refuses %s, before anything runs', (_what, sql, reason) => {
    const downSql = downSqlFromTracking(446, 447, 448);
    downSql.set(447n, { ...(downSql.get(447n) as DownSql), sql });
    const plan = planRollback(input({ current: { version: 448n, dirty: false }, tracked: trackedOf(445, 446, 447, 448), downSql }));
    expect(plan).toMatchObject({ kind: 'refuse', reason, versions: [447n] });
  });

  it('allows down SQL that only mentions _dbguard in a comment or a string', () => {
    const downSql = downSqlFromTracking(446, 447, 448);
    downSql.set(447n, { ...(downSql.get(447n) as DownSql), sql: "-- not _dbguard\nDROP TABLE t447; SELECT '_dbguard';" });
    expect(planRollback(input({ current: { version: 448n, dirty: false }, tracked: trackedOf(445, 446, 447, 448), downSql })).kind).toBe('rollback');
  });

  it('uses the next lower applied version, not version - 1 (timestamp versions)', () => {
    const v = [20240101120000n, 20240215093000n, 20240301000000n];
    const plan = planRollback(input({
      catalog: catalogOf(v[0] as bigint), current: { version: v[2] as bigint, dirty: false },
      tracked: trackedOf(...v), cache: cacheOf(v), downSql: downSqlFromTracking(v[1] as bigint, v[2] as bigint),
    }));
    expect(plan.kind === 'rollback' && plan.steps.map((s) => [s.version, s.after])).toEqual([[v[2], v[1]], [v[1], v[0]]]);
  });

  it('leaves no row when every applied migration is a phantom', () => {
    const plan = planRollback(input({ catalog: buildCatalog([], golangMigrate), current: { version: 2n, dirty: false }, tracked: trackedOf(1, 2), downSql: downSqlFromTracking(1, 2) }));
    expect(plan).toMatchObject({ kind: 'rollback', from: 2n, to: null, steps: [{ version: 2n, after: 1n }, { version: 1n, after: null }] });
  });

  it('treats a renamed file (version reused by the other branch) as a phantom', () => {
    const catalog = buildCatalog([...filesFor(445), '446_other.up.sql', '446_other.down.sql'], golangMigrate);
    const plan = planRollback(input({ catalog, current: { version: 446n, dirty: false }, tracked: trackedOf(445, 446), downSql: downSqlFromTracking(446) }));
    expect(plan).toMatchObject({ kind: 'rollback', to: 445n, steps: [{ version: 446n, filename: '446_m446.up.sql' }] });
  });

  it('ignores tracked versions above schema_migrations (already rolled back by another tool)', () => {
    const plan = planRollback(input({ tracked: trackedOf(445, 446, 447), cache: cacheOf([445, 446, 447]) }));
    expect(plan).toEqual({ kind: 'clean', current: 445n });
  });

  it('knows applied versions from the cache when the tracking table is empty', () => {
    const plan = planRollback(input({ current: { version: 446n, dirty: false }, tracked: [], cache: cacheOf([445, 446]), downSql: downSqlFromTracking(446) }));
    expect(plan).toMatchObject({ kind: 'rollback', to: 445n });
  });

  it('marks non-transactional down SQL', () => {
    const downSql = new Map([[446n, { version: 446n, filename: '446_m446.up.sql', sql: 'DROP INDEX CONCURRENTLY i;', origin: 'previous-tree' as const }]]);
    const plan = planRollback(input({ current: { version: 446n, dirty: false }, tracked: trackedOf(445, 446), downSql }));
    expect(plan.kind === 'rollback' && plan.steps[0]?.transactional).toBe(false);
  });
});
