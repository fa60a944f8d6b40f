import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { buildCatalog } from '../../src/core/catalog.js';
import { planRollback, rollbackCandidates, type DownSql } from '../../src/core/plan.js';
import { cacheOf, filesFor, trackedOf } from '../helpers/core.js';

/**
 * A random history: a set of applied versions (tracked), a current version that is usually the top
 * one, a subset of versions present on disk plus some new pending ones, and down SQL for a random
 * subset of the candidates.
 */
const history = fc.record({
  applied: fc.uniqueArray(fc.bigInt({ min: 1n, max: 30_000_000_000_000n }), { minLength: 1, maxLength: 12 }),
  extraCurrent: fc.option(fc.bigInt({ min: 1n, max: 30_000_000_000_000n })),
  keepMask: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
  pending: fc.uniqueArray(fc.bigInt({ min: 1n, max: 30_000_000_000_000n }), { maxLength: 4 }),
  downMask: fc.array(fc.boolean(), { minLength: 13, maxLength: 13 }),
  dirty: fc.boolean(),
  useCache: fc.boolean(),
});

type History = typeof history extends fc.Arbitrary<infer T> ? T : never;

function scenario(h: History) {
  const applied = [...h.applied].sort((a, b) => (a < b ? -1 : 1));
  const top = applied[applied.length - 1] as bigint;
  const current = h.extraCurrent !== null && h.extraCurrent > top ? h.extraCurrent : top;
  const onDisk = [...applied.filter((_, i) => h.keepMask[i]), ...h.pending.filter((p) => !applied.includes(p) && p !== current)];
  const base = {
    catalog: buildCatalog(filesFor(...onDisk), golangMigrate),
    current: { version: current, dirty: h.dirty },
    tracked: h.useCache ? [] : trackedOf(...applied),
    cache: h.useCache ? cacheOf(applied) : null,
  };
  const candidates = rollbackCandidates(base);
  const downSql = new Map<bigint, DownSql>(candidates.filter((_, i) => h.downMask[i]).map((c) => [c.version, {
    version: c.version, filename: c.filename ?? `${c.version}_m${c.version}.up.sql`, sql: `DROP TABLE t${c.version};`, origin: 'git-history' as const,
  }]));
  return { base, onDisk: new Set(onDisk), applied, plan: planRollback({ ...base, downSql }) };
}

describe('planRollback properties', () => {
  it('never rolls back a version that is on disk', () => {
    fc.assert(fc.property(history, (h) => {
      const { plan, onDisk } = scenario(h);
      if (plan.kind === 'rollback') for (const step of plan.steps) expect(onDisk.has(step.version)).toBe(false);
    }), { numRuns: 2000 });
  });

  it('rolls back every phantom, highest first, each step ending at the highest version still applied', () => {
    fc.assert(fc.property(history, (h) => {
      const { plan, base, applied, onDisk } = scenario(h);
      if (plan.kind !== 'rollback') return;
      const remaining = new Set([...applied, base.current.version]);
      const phantoms = [...remaining].filter((v) => !onDisk.has(v)).sort((a, b) => (a < b ? 1 : -1));
      expect(plan.steps.map((s) => s.version)).toEqual(phantoms);
      for (const step of plan.steps) {
        remaining.delete(step.version);
        const highest = [...remaining].reduce<bigint | null>((m, v) => (m === null || v > m ? v : m), null);
        expect(step.after).toBe(highest);
        expect(step.outOfOrder).toBe([...remaining].some((v) => v > step.version));
      }
      expect(plan.to).toBe(plan.steps.at(-1)?.after);
      // What remains applied is exactly what is on disk: the model database reaches the target set.
      for (const v of remaining) expect(onDisk.has(v)).toBe(true);
      if (plan.to !== null) expect(base.catalog.byVersion.has(plan.to)).toBe(true);
    }), { numRuns: 2000 });
  });

  it('names a reason, the versions and a fix whenever it refuses, and never rolls back a dirty database', () => {
    fc.assert(fc.property(history, (h) => {
      const { plan } = scenario(h);
      if (h.dirty) expect(plan).toMatchObject({ kind: 'refuse', reason: 'DIRTY' });
      if (plan.kind === 'refuse') {
        expect(['DIRTY', 'UNTRACKED', 'NO_DOWN_SQL']).toContain(plan.reason);
        expect(plan.versions.length).toBeGreaterThan(0);
        expect(plan.message.length).toBeGreaterThan(10);
        expect(plan.fix).toMatch(/^dbguard /);
      }
    }), { numRuns: 2000 });
  });

  it('is clean exactly when no applied version is missing from disk', () => {
    fc.assert(fc.property(history, (h) => {
      const { plan, applied, onDisk, base } = scenario(h);
      if (h.dirty) return;
      const allApplied = [...applied, base.current.version];
      const nothingMissing = allApplied.every((v) => onDisk.has(v));
      expect(plan.kind === 'clean').toBe(nothingMissing);
    }), { numRuns: 2000 });
  });
});

describe('planRollback properties with empty downs (data-only backfills and irreversible cleanups)', () => {
  const withBlanks = fc.record({
    applied: fc.uniqueArray(fc.bigInt({ min: 1n, max: 30_000_000_000_000n }), { minLength: 1, maxLength: 10 }),
    keepMask: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
    // per version: 0 = a real down, 1 = empty down of a data-only up, 2 = empty down of a schema change
    shape: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 10, maxLength: 10 }),
    keepIrreversible: fc.boolean(),
  });

  it('no-op steps only for data-only migrations; schema changes refused unless kept; on-disk ones never touched', () => {
    fc.assert(fc.property(withBlanks, (h) => {
      const applied = [...h.applied].sort((a, b) => (a < b ? -1 : 1));
      const top = applied[applied.length - 1] as bigint;
      const onDisk = new Set(applied.filter((_, i) => h.keepMask[i]));
      const shapeOf = new Map(applied.map((v, i) => [v, h.shape[i] ?? 0]));
      const base = { catalog: buildCatalog(filesFor(...onDisk), golangMigrate), current: { version: top, dirty: false }, tracked: trackedOf(...applied), cache: null };
      const candidates = rollbackCandidates(base);
      const downSql = new Map<bigint, DownSql>(candidates.map((c) => [c.version, {
        version: c.version, filename: c.filename as string, origin: 'tracking-table' as const,
        sql: shapeOf.get(c.version) === 0 ? `DROP TABLE t${c.version};` : '-- no-op\n',
      }]));
      const upSql = new Map(candidates.map((c) => [c.version, shapeOf.get(c.version) === 2 ? `CREATE TABLE backup_${c.version} AS SELECT 1;` : `UPDATE t SET v = ${c.version};`]));
      const plan = planRollback({ ...base, downSql, upSql, keepIrreversible: h.keepIrreversible });
      const irreversible = candidates.filter((c) => shapeOf.get(c.version) === 2).map((c) => c.version);
      if (irreversible.length > 0 && !h.keepIrreversible) {
        expect(plan).toMatchObject({ kind: 'refuse', reason: 'IRREVERSIBLE', versions: irreversible });
        return;
      }
      if (candidates.length === 0) {
        expect(plan.kind).toBe('clean');
        return;
      }
      expect(plan.kind).toBe('rollback');
      if (plan.kind !== 'rollback') return;
      for (const step of plan.steps) {
        expect(onDisk.has(step.version)).toBe(false);
        expect(step.origin).toBe('tracking-table');
        const shape = shapeOf.get(step.version);
        expect(step.kind).toBe(shape === 0 ? 'down' : 'noop');
        if (shape === 1) expect(step.note).toBe('data changes kept');
        if (shape === 2) expect(step.note).toBe('schema left behind (--keep-irreversible)');
      }
      const remaining = applied.filter((v) => !plan.steps.some((s) => s.version === v));
      expect(remaining.every((v) => onDisk.has(v))).toBe(true);
    }), { numRuns: 2000 });
  });
});
