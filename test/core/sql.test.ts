import { describe, expect, it } from 'vitest';
import { isBlankSql, requiresNoTransaction, splitSqlStatements, stripSqlLiterals } from '../../src/core/sql.js';

describe('requiresNoTransaction', () => {
  it.each([
    'CREATE INDEX CONCURRENTLY idx ON t (a);',
    'create unique index concurrently idx on t(a);',
    'DROP INDEX CONCURRENTLY IF EXISTS idx;',
    'REINDEX INDEX CONCURRENTLY idx;',
    'VACUUM t;',
    'ALTER SYSTEM SET work_mem = 1;',
    'DROP DATABASE x;',
    'BEGIN;\nDROP TABLE t;\nCOMMIT;',
    'START TRANSACTION;\nDROP TABLE t;\nCOMMIT;',
    '-- dbguard:no-transaction\nDROP TABLE t;',
  ])('is true for %j', (sql) => {
    expect(requiresNoTransaction(sql)).toBe(true);
  });

  it.each([
    'DROP TABLE t;',
    'CREATE INDEX idx ON t (a);',
    "COMMENT ON TABLE t IS 'we VACUUM and COMMIT here';",
    '-- CREATE INDEX CONCURRENTLY is not used\nDROP TABLE t;',
    '/* VACUUM */ DROP TABLE t;',
    'CREATE FUNCTION f() RETURNS void AS $$ BEGIN COMMIT; END $$ LANGUAGE plpgsql;',
    'CREATE FUNCTION f() RETURNS void AS $body$ BEGIN PERFORM 1; END $body$ LANGUAGE plpgsql;',
    'ALTER TABLE "begin" DROP COLUMN "commit";',
  ])('is false for %j', (sql) => {
    expect(requiresNoTransaction(sql)).toBe(false);
  });
});

describe('stripSqlLiterals', () => {
  it('blanks comments, strings, identifiers and dollar bodies', () => {
    expect(stripSqlLiterals("a -- c\nb /* x /* nested */ y */ 'it''s' \"q\" $t$ body $t$ z").replace(/\s+/g, ' ').trim()).toBe('a b z');
  });
});

describe('isBlankSql', () => {
  it.each([['', true], ['  \n', true], ['-- nothing\n;', true], ['/* c */', true], ['DROP TABLE t;', false]])('%j → %s', (sql, blank) => {
    expect(isBlankSql(sql)).toBe(blank);
  });
});

describe('splitSqlStatements', () => {
  it('splits at top-level semicolons only', () => {
    const sql = "DROP INDEX CONCURRENTLY a;\n-- c; d\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nINSERT INTO t VALUES ('x;y');\n/* ; */";
    expect(splitSqlStatements(sql)).toEqual([
      'DROP INDEX CONCURRENTLY a;',
      '-- c; d\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;',
      "INSERT INTO t VALUES ('x;y');",
    ]);
  });
  it('keeps a last statement without a semicolon and drops empty ones', () => {
    expect(splitSqlStatements(';;SELECT 1;; SELECT 2')).toEqual(['SELECT 1;', 'SELECT 2']);
  });
});
