import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
    catalog: buildCatalog(filesFor(...onDisk)),
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

  it('rolls back strictly descending and contiguously from the top, each step ending where the next starts', () => {
    fc.assert(fc.property(history, (h) => {
      const { plan, base } = scenario(h);
      if (plan.kind !== 'rollback') return;
      expect(plan.steps[0]?.version).toBe(base.current.version);
      plan.steps.forEach((step, i) => {
        const next = plan.steps[i + 1];
        if (next) {
          expect(next.version < step.version).toBe(true);
          expect(step.after).toBe(next.version);
        } else {
          expect(step.after).toBe(plan.to);
        }
      });
      // Whatever remains applied (the common ancestor) is on disk.
      if (plan.to !== null) expect(base.catalog.byVersion.has(plan.to)).toBe(true);
    }), { numRuns: 2000 });
  });

  it('names a reason, the versions and a fix whenever it refuses, and never rolls back a dirty database', () => {
    fc.assert(fc.property(history, (h) => {
      const { plan } = scenario(h);
      if (h.dirty) expect(plan).toMatchObject({ kind: 'refuse', reason: 'DIRTY' });
      if (plan.kind === 'refuse') {
        expect(['DIRTY', 'UNTRACKED', 'NOT_CONTIGUOUS', 'NO_DOWN_SQL']).toContain(plan.reason);
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
