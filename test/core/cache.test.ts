import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { assertCacheBelongsTo, parseCache, serializeCache, summarizeCache, uncapturedVersions } from '../../src/core/cache.js';
import { DbguardError } from '../../src/core/errors.js';

const valid = {
  version: 1,
  database: 'embedded',
  migrations: { '445': '000445_chat.up.sql', '446': '446_b.up.sql' },
  downCaptured: ['445'],
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof DbguardError ? error.code : 'NOT_A_DBGUARD_ERROR';
  }
  return undefined;
}

describe('parseCache', () => {
  it('reads a valid document', () => {
    const cache = parseCache(JSON.stringify(valid), golangMigrate);
    expect(cache.database).toBe('embedded');
    expect([...cache.migrations]).toEqual([
      [445n, { filename: '000445_chat.up.sql', downCaptured: true }],
      [446n, { filename: '446_b.up.sql', downCaptured: false }],
    ]);
    expect(uncapturedVersions(cache)).toEqual([446n]);
  });

  it('round-trips through serializeCache deterministically', () => {
    const text = serializeCache(parseCache(JSON.stringify(valid), golangMigrate), golangMigrate);
    expect(parseCache(text, golangMigrate)).toEqual(parseCache(JSON.stringify(valid), golangMigrate));
    expect(serializeCache(parseCache(text, golangMigrate), golangMigrate)).toBe(text);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('keeps why a migration has no down SQL to run (§18), and what the hook would still look for', () => {
    const doc = { ...valid, migrations: { ...valid.migrations, '447': '447_c.up.sql' }, noDown: { '446': { kind: 'irreversible', why: 'an empty down file' }, '447': { kind: 'missing', why: 'no down file' } } };
    const cache = parseCache(JSON.stringify(doc), golangMigrate);
    expect(cache.migrations.get(446n)).toEqual({ filename: '446_b.up.sql', downCaptured: false, noDown: { kind: 'irreversible', why: 'an empty down file' } });
    expect(parseCache(serializeCache(cache, golangMigrate), golangMigrate)).toEqual(cache);
    // A blank down is found nowhere else: the hook does not start Postgres to look for it.
    expect(summarizeCache(JSON.stringify(doc), golangMigrate).uncaptured).toEqual(['447']);
    expect(codeOf(() => parseCache(JSON.stringify({ ...doc, noDown: { '9': { kind: 'missing', why: 'x' } } }), golangMigrate))).toBe('CACHE_CORRUPT');
    expect(codeOf(() => parseCache(JSON.stringify({ ...doc, noDown: { '446': { kind: 'gone', why: 'x' } } }), golangMigrate))).toBe('CACHE_CORRUPT');
  });

  it('accepts the minimal document of DESIGN §1', () => {
    expect(parseCache('{"version":1,"migrations":{}}', golangMigrate).migrations.size).toBe(0);
  });

  it.each([
    ['empty file', '', 'CACHE_CORRUPT'],
    ['truncated JSON', JSON.stringify(valid).slice(0, 30), 'CACHE_CORRUPT'],
    ['not an object', '[]', 'CACHE_CORRUPT'],
    ['null', 'null', 'CACHE_CORRUPT'],
    ['future format', JSON.stringify({ ...valid, version: 2 }), 'CACHE_VERSION_UNSUPPORTED'],
    ['string format version', JSON.stringify({ ...valid, version: '1' }), 'CACHE_VERSION_UNSUPPORTED'],
    ['missing migrations', '{"version":1}', 'CACHE_CORRUPT'],
    ['non-numeric key', JSON.stringify({ version: 1, migrations: { abc: '1_a.up.sql' } }), 'CACHE_CORRUPT'],
    ['value not a string', JSON.stringify({ version: 1, migrations: { '1': 5 } }), 'CACHE_CORRUPT'],
    ['value names another version', JSON.stringify({ version: 1, migrations: { '1': '2_a.up.sql' } }), 'CACHE_CORRUPT'],
    ['value is a down file', JSON.stringify({ version: 1, migrations: { '1': '1_a.down.sql' } }), 'CACHE_CORRUPT'],
    ['duplicate version via leading zeros', JSON.stringify({ version: 1, migrations: { '1': '1_a.up.sql', '01': '01_a.up.sql' } }), 'CACHE_CORRUPT'],
    ['captured version without entry', JSON.stringify({ version: 1, migrations: {}, downCaptured: ['3'] }), 'CACHE_CORRUPT'],
    ['unknown key', JSON.stringify({ ...valid, extra: true }), 'CACHE_CORRUPT'],
  ])('rejects %s', (_label, text, code) => {
    expect(codeOf(() => parseCache(text, golangMigrate))).toBe(code);
  });

  it('points the user at dbguard capture', () => {
    try {
      parseCache('{', golangMigrate);
      expect.unreachable();
    } catch (error) {
      expect((error as DbguardError).hint).toContain('dbguard capture');
    }
  });
});

describe('assertCacheBelongsTo', () => {
  const cache = parseCache(JSON.stringify(valid), golangMigrate);
  it('accepts the same database and caches without identity', () => {
    expect(() => assertCacheBelongsTo(cache, 'embedded')).not.toThrow();
    expect(() => assertCacheBelongsTo({ ...cache, database: undefined }, 'x')).not.toThrow();
  });
  it('refuses a cache written for another database', () => {
    expect(codeOf(() => assertCacheBelongsTo(cache, 'postgres://db:5432/other'))).toBe('CACHE_OTHER_DATABASE');
  });
});
