import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { isBlankSql, isDataOnlySql, requiresNoTransaction, splitSqlStatements, stripSqlLiterals } from '../../src/core/sql.js';

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
    expect(requiresNoTransaction(sql, golangMigrate)).toBe(true);
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
    expect(requiresNoTransaction(sql, golangMigrate)).toBe(false);
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

describe('the scanner on what real migrations hold (issue 9, item 11)', () => {
  const atomic = `CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN i > 0 THEN i + 1 ELSE 1 END;
  SELECT i + 1;
END;
CREATE TABLE after_fn (id int);`;

  it('keeps a BEGIN ATOMIC … END body in one statement, and does not take it for transaction control', () => {
    expect(splitSqlStatements(atomic)).toEqual([atomic.slice(0, atomic.indexOf('CREATE TABLE')).trim(), 'CREATE TABLE after_fn (id int);']);
    expect(requiresNoTransaction(atomic, golangMigrate)).toBe(false);
  });

  it("does not split inside E'…' strings with escaped quotes", () => {
    expect(splitSqlStatements("INSERT INTO t VALUES (E'it\\'s; fine'); SELECT 1;")).toEqual(["INSERT INTO t VALUES (E'it\\'s; fine');", 'SELECT 1;']);
    expect(stripSqlLiterals("SELECT E'a\\'b' AS x").replace(/\s+/g, ' ').trim()).toBe('SELECT AS x');
    // A word ending in e before a quote is not an E string.
    expect(splitSqlStatements("SELECT 'x\\'; SELECT 2;")).toEqual(["SELECT 'x\\';", 'SELECT 2;']);
  });

  it.each(['ABORT;', 'BEGIN; UPDATE t SET a = 1; COMMIT AND CHAIN; COMMIT;', 'begin work;\nupdate t set a = 1;\nend;', 'BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT 1; COMMIT;'])(
    'sees transaction control in %j', (sql) => {
      expect(requiresNoTransaction(sql, golangMigrate)).toBe(true);
    },
  );

  it('honours the explicit marker on the first line', () => {
    expect(requiresNoTransaction('-- dbguard:no-transaction\nALTER TYPE mood ADD VALUE \'ok\';', golangMigrate)).toBe(true);
  });
});

describe('isDataOnlySql (the conservative classifier of §3)', () => {
  it.each([
    'UPDATE users SET plan = \'free\' WHERE plan IS NULL;',
    'INSERT INTO roles (name) VALUES (\'admin\') ON CONFLICT DO NOTHING;',
    'BEGIN;\nUPDATE a SET x = 1;\nCOMMIT;',
    'CREATE TEMP TABLE tmp_map AS SELECT id FROM users;\nUPDATE users u SET x = 1 FROM tmp_map m WHERE m.id = u.id;\nDROP TABLE tmp_map;',
    'CREATE FUNCTION pg_temp.fix(i int) RETURNS int AS $$ SELECT i $$ LANGUAGE sql;\nUPDATE t SET a = pg_temp.fix(a);',
    'DO $$ BEGIN UPDATE t SET a = 1; END $$;',
    'CREATE EXTENSION IF NOT EXISTS pgcrypto;\nUPDATE t SET token = gen_random_uuid();',
    'WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved;',
  ])('is data-only: %j', (sql) => {
    expect(isDataOnlySql(sql)).toBe(true);
  });

  it.each([
    'CREATE TABLE audit_backup AS SELECT * FROM audit;',
    'ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text;',
    'UPDATE t SET a = 1; DROP TABLE old_things;',
    'DO $$ BEGIN ALTER TABLE t ADD COLUMN b int; END $$;',
    "DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$;",
    'CREATE INDEX i ON t (a);',
    'CREATE EXTENSION pgcrypto;',
    '-- nothing',
  ])('is not: %j', (sql) => {
    expect(isDataOnlySql(sql)).toBe(false);
  });
});
