import { describe, expect, it } from 'vitest';
import { MAX_DATABASE_NAME_BYTES, encodeKeptDatabaseComment, parseKeptDatabaseComment, savedBranchDatabaseName, worktreeDatabaseName } from '../../src/core/kept-database.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

describe('kept database names', () => {
  const awkward = [
    '/home/me/wt1', '/home/me/my worktree', "/tmp/it's \"quoted\"", '/tmp/$(rm -rf ~)', '/tmp/ünïcødé-日本語', `/tmp/${'x'.repeat(300)}`, '/tmp/---', '/tmp/UPPER',
  ];

  it('are valid unquoted identifiers of at most 63 bytes, whatever the path', () => {
    for (const path of awkward) {
      const name = worktreeDatabaseName('postgres', path);
      expect(bytes(name)).toBeLessThanOrEqual(MAX_DATABASE_NAME_BYTES);
      expect(name).toMatch(/^[a-z0-9_]+$/);
    }
  });

  it('differ for different paths, even when cut or reduced to the same slug', () => {
    const names = [...awkward, '/a/wt1', '/b/wt1', `/tmp/${'x'.repeat(300)}y`].map((p) => worktreeDatabaseName('postgres', p));
    expect(new Set(names).size).toBe(names.length);
  });

  it('read as the worktree folder they belong to', () => {
    expect(worktreeDatabaseName('app', '/home/me/feature-login')).toMatch(/^app_wt_feature_login_[0-9a-f]{8}$/);
  });

  it('of saved branches are unique per worktree database and branch, and bounded', () => {
    const branches = ['main', 'feat/login', 'feat-login', 'ünï/日本', 'b'.repeat(200), `${'b'.repeat(200)}c`];
    const names = branches.map((b) => savedBranchDatabaseName('postgres', b));
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(bytes(name)).toBeLessThanOrEqual(MAX_DATABASE_NAME_BYTES);
    expect(savedBranchDatabaseName('postgres', 'feat/x')).not.toBe(savedBranchDatabaseName('app_wt_x_12345678', 'feat/x'));
  });
});

describe('kept database comments', () => {
  it('round-trip their meta, and refuse other comments', () => {
    const meta = { kind: 'worktree' as const, worktree: '/w/a b', branch: 'feat/ü', source: 'postgres', createdAt: '2026-12-03T10:00:00.000Z' };
    expect(parseKeptDatabaseComment(encodeKeptDatabaseComment(meta))).toEqual(meta);
    expect(parseKeptDatabaseComment(null)).toBeNull();
    expect(parseKeptDatabaseComment('dbguard snapshot {}')).toBeNull();
    expect(parseKeptDatabaseComment('dbguard database {not json')).toBeNull();
    expect(parseKeptDatabaseComment('dbguard database {"kind":"other","worktree":"/x","createdAt":"t"}')).toBeNull();
  });
});
