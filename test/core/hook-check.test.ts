import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { ancestorAfter, checkListing, hookRevisions, parseRewritten, pendingVersions } from '../../src/core/hook-check.js';

const summary = (filenames: string[]) => ({ database: undefined, filenames, uncaptured: [] });

describe('hookRevisions (which commits a git hook compares)', () => {
  it('post-checkout: only a branch checkout that moves HEAD', () => {
    expect(hookRevisions('post-checkout', ['a1', 'b2', '1'], undefined)).toEqual({ prev: 'a1', next: 'b2' });
    expect(hookRevisions('post-checkout', ['a1', 'b2', '0'], undefined)).toBeNull(); // a file checkout
    expect(hookRevisions('post-checkout', ['a1', 'a1', '1'], undefined)).toBeNull(); // git checkout -b
  });

  it('post-rewrite: the old tip from stdin (amend sets no ORIG_HEAD), ORIG_HEAD only without stdin', () => {
    expect(hookRevisions('post-rewrite', ['amend'], 'old1 new1\n')).toEqual({ prev: 'old1', next: 'new1' });
    expect(hookRevisions('post-rewrite', ['rebase'], 'o1 n1\no2 n2 extra\n')).toEqual({ prev: 'o2', next: 'n2' });
    expect(hookRevisions('post-rewrite', ['rebase'], '')).toEqual({ prev: 'ORIG_HEAD', next: 'HEAD' });
    expect(hookRevisions('post-merge', ['0'], undefined)).toEqual({ prev: 'ORIG_HEAD', next: 'HEAD' });
    expect(hookRevisions('pre-commit', [], undefined)).toBeNull();
  });

  it('parseRewritten ignores blank and malformed lines', () => {
    expect(parseRewritten('\n o1 n1 \nonly-one\n\n')).toEqual([{ old: 'o1', new: 'n1' }]);
  });
});

describe('checkListing (the clean path)', () => {
  it('is all-present when every applied up file is listed and statable, and lists the new ones as pending', () => {
    const listed = ['1_a.up.sql', '1_a.down.sql', '2_b.up.sql', '3_c.up.sql', 'README.md'];
    expect(checkListing(summary(['1_a.up.sql', '2_b.up.sql']), listed, new Map(), golangMigrate)).toEqual({ allPresent: true, pending: ['3_c.up.sql'] });
    expect(checkListing(summary(['1_a.up.sql', '9_z.up.sql']), listed, new Map(), golangMigrate).allPresent).toBe(false);
    expect(checkListing(summary(['1_a.up.sql']), listed, new Map([['1_a.up.sql', 'EACCES']]), golangMigrate).allPresent).toBe(false);
  });

  it('pendingVersions sorts by version, not by name', () => {
    expect(pendingVersions(['10_x.up.sql', '9_y.up.sql', 'junk.up.sql'], golangMigrate)).toEqual([9n, 10n]);
  });

  it('ancestorAfter is the highest applied version not missing', () => {
    expect(ancestorAfter([445n, 446n, 447n], new Set([447n, 446n]))).toBe(445n);
    expect(ancestorAfter([445n, 446n, 447n], new Set([446n]))).toBe(447n);
    expect(ancestorAfter([1n], new Set([1n]))).toBeNull();
  });
});
