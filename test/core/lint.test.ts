import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { lintMigrations } from '../../src/core/lint.js';

const tree = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('lintMigrations (§10)', () => {
  const mergeBase = tree({ '1_a.up.sql': 'a1', '1_a.down.sql': 'a2', '2_b.up.sql': 'b1' });
  const ref = tree({ ...Object.fromEntries(mergeBase), '4_d.up.sql': 'd1' }); // main gained 4 after the merge-base

  it('is clean for a branch that only adds above the base\'s top, whatever the base gained', () => {
    expect(lintMigrations({ mergeBase, ref, head: tree({ ...Object.fromEntries(mergeBase), '5_e.up.sql': 'e1' }), format: golangMigrate })).toEqual([]);
  });

  it('names an added migration below the base\'s top, an edited one and a deleted one', () => {
    const head = tree({ '1_a.up.sql': 'a1', '2_b.up.sql': 'CHANGED', '3_c.up.sql': 'c1', '3_c.down.sql': 'c2' });
    expect(lintMigrations({ mergeBase, ref, head, format: golangMigrate })).toEqual([
      { kind: 'deleted', file: '1_a.down.sql', version: 1n },
      { kind: 'edited', file: '2_b.up.sql', version: 2n },
      { kind: 'below-base-top', file: '3_c.up.sql', version: 3n, baseTop: 4n },
    ]);
  });
});
