/** The format seam (issue 19): golang-migrate's facts in one module, as data and SQL strings. */
import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { belowTopRule, detectFormat } from '../../src/formats/index.js';
import { dbmate } from '../../src/formats/dbmate.js';
import { goose } from '../../src/formats/goose.js';
import { sqlMigrate } from '../../src/formats/sql-migrate.js';

describe('golang-migrate\'s format module', () => {
  it('records a version exactly as golang-migrate does: cleared, then one row; nothing applied is no row, a dirty nothing is NilVersion', () => {
    expect(golangMigrate.setVersionSql?.(447n, false)).toBe('DELETE FROM schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (447, false);');
    expect(golangMigrate.setVersionSql?.(null, false)).toBe('DELETE FROM schema_migrations;');
    expect(golangMigrate.setVersionSql?.(null, true)).toBe('DELETE FROM schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (-1, true);');
    expect(golangMigrate.appliedFromRows([{ version: '-1', dirty: true }])).toEqual({ version: 0n, dirty: true });
    expect(golangMigrate.appliedFromRows([])).toBeNull();
  });

  it('tells its own table from dbmate\'s of the same name by the columns', () => {
    expect(golangMigrate.shapeProblem(['version bigint', 'dirty boolean'])).toBeNull();
    expect(golangMigrate.shapeProblem(['version character varying(128)'])).toEqual({ found: 'schema_migrations here has the columns version character varying(128)', tool: 'dbmate' });
    expect(golangMigrate.shapeProblem(['id integer'])?.tool).toBeNull();
  });

  it('pairs files, and says what the tool does below the applied top', () => {
    expect(golangMigrate.downFileFor('0007_x.up.sql')).toBe('0007_x.down.sql');
    expect(golangMigrate.upFileFor('0007_x.down.sql')).toBe('0007_x.up.sql');
    expect(golangMigrate.parseFileName('0007_x.up.sql')).toEqual({ version: 7n, name: 'x', direction: 'up' });
    expect(belowTopRule(golangMigrate, 2)).toBe('golang-migrate would skip them');
    expect(belowTopRule(golangMigrate, 1, 'does')).toBe('golang-migrate skips it');
    expect(belowTopRule({ ...golangMigrate, name: 'dbmate', outOfOrder: 'applied' }, 1)).toBe('dbmate applies it too');
    expect(belowTopRule({ ...golangMigrate, name: 'goose', outOfOrder: 'refused' }, 2)).toBe('goose refuses them');
  });
});

describe('dbmate\'s, goose\'s and sql-migrate\'s format modules (issue 19)', () => {
  const code = (f: () => unknown) => { try { f(); return null; } catch (error) { return { code: (error as { code?: string }).code, message: (error as Error).message }; } };

  it('dbmate: sections at line starts; transaction:false kept; a second pair (dbmate cannot apply it on PostgreSQL) and markers a user gets wrong are errors with the line', () => {
    const file = '-- a comment first is fine\n-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON a ((1));\n-- migrate:down\nDROP INDEX i;\n';
    expect(dbmate.sectionOf(file, 'up', 'f.sql')).toBe('-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON a ((1));');
    expect(dbmate.sectionOf(file, 'down', 'f.sql')).toBe('-- migrate:down\nDROP INDEX i;\n');
    expect(dbmate.declaresNoTransaction(dbmate.sectionOf(file, 'up', 'f.sql'))).toBe(true);
    expect(dbmate.declaresNoTransaction(dbmate.sectionOf(file, 'down', 'f.sql'))).toBe(false);
    expect(code(() => dbmate.sectionOf('-- migrate:up\nCREATE TABLE a ();\n-- migrate:down\nDROP TABLE a;\n-- migrate:up\nCREATE TABLE b ();\n-- migrate:down\nDROP TABLE b;\n', 'up', 'f.sql'))?.message).toContain('f.sql line 5: a second "-- migrate:up" pair');
    expect(code(() => dbmate.sectionOf('-- migrate:up\nCREATE TABLE a ();\n  -- migrate:down\nDROP TABLE a;\n', 'up', 'f.sql'))).toEqual({ code: 'MIGRATION_FILE_INVALID', message: expect.stringMatching(/^f\.sql line 3: .*must start the line/) });
    expect(code(() => dbmate.sectionOf('-- migrate:up\nCREATE TABLE a ();\n', 'up', 'f.sql'))).toEqual({ code: 'MIGRATION_FILE_INVALID', message: expect.stringContaining('line 1: this "-- migrate:up" has no "-- migrate:down"') });
    expect(code(() => dbmate.sectionOf('CREATE TABLE a ();\n-- migrate:up\n-- migrate:down\n', 'up', 'f.sql'))?.message).toContain('SQL before its "-- migrate:up"');
    expect(code(() => dbmate.sectionOf('-- Migrate:Down\n', 'up', 'f.sql'))?.message).toContain('line 1');
    expect(code(() => dbmate.sectionOf('SELECT 1;\n', 'up', 'f.sql'))?.message).toContain('has no "-- migrate:up" line');
  });

  it('dbmate: versions are the leading digits, recorded as the file writes them, removed by value; its table told from golang-migrate\'s', () => {
    expect(dbmate.parseFileName('20240101120000_create_users.sql')).toEqual({ version: 20240101120000n, name: 'create_users', direction: 'up' });
    expect(dbmate.parseFileName('0042.sql')).toEqual({ version: 42n, name: '0042', direction: 'up' });
    expect(dbmate.parseFileName('notes.sql')).toBeNull();
    expect(dbmate.recordApplySql({ version: 42n, filename: '0042_x.sql' }, 42n)).toBe("INSERT INTO schema_migrations (version) VALUES ('0042');");
    expect(dbmate.recordUnapplySql({ version: 42n, filename: '0042_x.sql' }, null)).toBe("DELETE FROM schema_migrations WHERE version ~ '^[0-9]+$' AND version::numeric = 42;");
    expect(dbmate.appliedFromRows([{ version: '0042' }, { version: '7' }])).toEqual({ version: 42n, dirty: false, applied: new Map([[42n, '0042'], [7n, '7']]) });
    expect([dbmate.idMatches('0042', '0042_x.sql'), dbmate.idMatches('42', '0042_x.sql')]).toEqual([true, false]);
    expect(dbmate.appliedFromRows([])).toBeNull();
    expect(code(() => dbmate.appliedFromRows([{ version: '007' }, { version: '7' }]))?.code).toBe('TRACKING_ROW_INVALID');
    expect(dbmate.shapeProblem(['version character varying(128)'])).toBeNull();
    expect(dbmate.shapeProblem(['version bigint', 'dirty boolean'])?.tool).toBe('golang-migrate');
  });

  it('sql-migrate: the id is the file name (escaped), a rename is a new migration; commands exactly at the line start; the last statement needs its semicolon', () => {
    expect(sqlMigrate.recordApplySql({ version: 3n, filename: "3_it's.sql" }, 3n)).toBe("INSERT INTO gorp_migrations (id, applied_at) VALUES (E'3_it\\'s.sql', now());");
    expect(sqlMigrate.recordUnapplySql({ version: 3n, filename: '3_a\\b.sql' }, null)).toBe("DELETE FROM gorp_migrations WHERE id = E'3_a\\\\b.sql';");
    expect(sqlMigrate.renameIsNewMigration).toBe(true);
    expect(sqlMigrate.appliedFromRows([{ id: '1_a.sql' }, { id: '10_b.sql' }])).toEqual({ version: 10n, dirty: false, applied: new Map([[1n, '1_a.sql'], [10n, '10_b.sql']]) });
    expect(code(() => sqlMigrate.appliedFromRows([{ id: 'init.sql' }]))?.code).toBe('TRACKING_ROW_INVALID');
    const file = '-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- +migrate Down\nDROP INDEX i;\n';
    expect(sqlMigrate.declaresNoTransaction(sqlMigrate.sectionOf(file, 'up', 'f.sql'))).toBe(true);
    expect(sqlMigrate.declaresNoTransaction(sqlMigrate.sectionOf(file, 'down', 'f.sql'))).toBe(false);
    expect(sqlMigrate.sectionOf('-- +migrate Up\nCREATE TABLE t ();\n', 'down', 'f.sql')).toBe('');
    expect(code(() => sqlMigrate.sectionOf('-- +migrate Up\nCREATE TABLE t ()\n', 'up', 'f.sql'))?.message).toBe('f.sql line 2: the last statement does not end with a semicolon');
    expect(code(() => sqlMigrate.sectionOf('-- +migrate Up\nCREATE TABLE t ();\n -- +migrate Down\nDROP TABLE t;\n', 'up', 'f.sql'))?.message).toContain('line 3');
    expect(code(() => sqlMigrate.sectionOf('-- +migrate Up\n-- +migrate StatementBegin\nSELECT 1;\n', 'up', 'f.sql'))?.message).toContain('line 2: "-- +migrate StatementBegin" has no');
    expect(code(() => sqlMigrate.sectionOf('CREATE TABLE t ();\n', 'up', 'f.sql'))?.message).toContain('runs nothing of it');
  });

  it('goose: Up first, Down optional; NO TRANSACTION holds for both directions; ENVSUB from the environment; annotations in any case, never indented', () => {
    const file = '-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n-- +goose StatementEnd\n-- +goose down\nDROP FUNCTION f();\n';
    expect(goose.sectionOf(file, 'up', 'f.sql')).toBe('-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n-- +goose StatementEnd');
    expect(goose.declaresNoTransaction(goose.sectionOf(file, 'down', 'f.sql'))).toBe(true);
    expect(goose.sectionOf('-- +goose Up\n-- +goose ENVSUB ON\nCREATE ROLE ${ROLE_NAME:-app};\nGRANT ${MISSING:-x} TO ${ROLE_NAME};\n-- +goose ENVSUB OFF\nSELECT \'${ROLE_NAME}\';\n', 'up', 'f.sql', { ROLE_NAME: 'reader' }))
      .toBe('-- +goose Up\n-- +goose ENVSUB ON\nCREATE ROLE reader;\nGRANT x TO reader;\n-- +goose ENVSUB OFF\nSELECT \'${ROLE_NAME}\';\n');
    expect(goose.sectionOf('-- +goose Up\nCREATE TABLE t ();\n', 'down', 'f.sql')).toBe('');
    // ENVSUB holds across the file: switched on before Up, it reaches the Down too.
    const envsub = '-- +goose ENVSUB ON\n-- +goose Up\nCREATE TABLE ${T};\n-- +goose Down\nDROP TABLE ${T:-dflt};\n';
    expect(goose.sectionOf(envsub, 'up', 'f.sql', { T: 'x' })).toBe('-- +goose Up\nCREATE TABLE x;');
    expect(goose.sectionOf(envsub, 'down', 'f.sql', {})).toBe('-- +goose Down\nDROP TABLE dflt;\n');
    // A hostile file cannot have dbguard's connection secrets written into SQL, nor quote a terminal escape.
    for (const name of ['PGPASSWORD', 'DBGUARD_DATABASE_URL', 'DATABASE_URL']) {
      expect(code(() => goose.sectionOf(`-- +goose Up\n-- +goose ENVSUB ON\nINSERT INTO leak VALUES ('\${${name}}');\n`, 'up', 'f.sql', { [name]: 'secret' }))).toEqual({ code: 'MIGRATION_FILE_INVALID', message: expect.stringContaining(`line 3: ENVSUB names \${${name}}`) });
    }
    expect(code(() => goose.sectionOf('-- +goose Up\nSELECT 1;\n-- +goose \u001b]0;owned\u0007\n', 'up', 'f.sql'))?.message).toContain('"-- +goose \\u001b]0;owned\\u0007"');
    expect(code(() => goose.sectionOf('CREATE TABLE t ();\n-- +goose Up\n', 'up', 'f.sql'))?.message).toContain("line 1: goose requires the file to start with a \"-- +goose Up\"");
    expect(code(() => goose.sectionOf('-- +goose Up\nSELECT 1;\n  -- +goose Down\nSELECT 2;\n', 'up', 'f.sql'))?.message).toContain('line 3: "-- +goose Down" has leading whitespace');
    expect(code(() => goose.sectionOf('-- +goose Up\nSELECT 1;\n-- +goose Upp\n', 'up', 'f.sql'))?.message).toContain('line 3');
    expect(code(() => goose.sectionOf('-- +goose Up\nSELECT 1\n', 'up', 'f.sql'))?.message).toContain('line 2: the last statement does not end with a semicolon');
  });

  it('goose: the newest row of a version decides (old goose wrote is_applied = false), version 0 is the table\'s own; a table is born with its version-0 row', () => {
    // ORDER BY id DESC: 3 was applied then rolled back by an old goose; 2 applied; 0 the birth row.
    expect(goose.appliedFromRows([{ version: '3', is_applied: false }, { version: '3', is_applied: true }, { version: '2', is_applied: true }, { version: '0', is_applied: true }]))
      .toEqual({ version: 2n, dirty: false, applied: new Map([[2n, null]]) });
    expect(goose.appliedFromRows([{ version: '0', is_applied: true }])).toBeNull();
    expect(goose.createTableSql).toContain('INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true)');
    expect(goose.recordApplySql({ version: 5n, filename: '5_x.sql' }, 5n)).toBe('INSERT INTO goose_db_version (version_id, is_applied) VALUES (5, true);');
    expect(goose.recordUnapplySql({ version: 5n, filename: '5_x.sql' }, 2n)).toBe('DELETE FROM goose_db_version WHERE version_id = 5;');
    // §18: a Go migration is a migration dbguard lists and tracks but cannot run; its tests are not migrations.
    expect(goose.parseFileName('00002_seed.go')).toEqual({ version: 2n, name: 'seed', direction: 'up', runnable: false });
    expect(goose.parseFileName('00002_seed_test.go')).toBeNull();
    expect(goose.looksLikeMigration('00002_seed_test.go')).toBe(false);
    expect(goose.parseFileName('00003_x.sql')).toEqual({ version: 3n, name: 'x', direction: 'up' });
  });

  it('the format is told from the first file that tells (nothing else is read); no migrations: null', () => {
    const heads: Record<string, string> = { '1_a.sql': '-- migrate:up\nSELECT 1;\n-- migrate:down\n', '2_b.sql': '-- +goose Up\nSELECT 1;\n', '3_c.sql': '-- +migrate Up\nSELECT 1;\n', '4_notes.sql': '-- just notes\n' };
    const asked: string[] = [];
    const read = (name: string) => { asked.push(name); return heads[name] ?? null; };
    expect(detectFormat(['README.md', '4_notes.sql', '1_a.sql', '2_b.sql'], read)).toBe('dbmate');
    expect(asked).toEqual(['4_notes.sql', '1_a.sql']);
    expect(detectFormat(['2_b.sql'], read)).toBe('goose');
    expect(detectFormat(['3_c.sql'], read)).toBe('sql-migrate');
    expect(detectFormat(['1_a.up.sql', '2_b.sql'], read)).toBe('golang-migrate');
    expect(detectFormat([], read)).toBeNull();
  });

  it('a file of the other layout is a named error in each: the catalog reports it, with what to set', () => {
    expect(dbmate.parseFileName('1_a.up.sql')).toBeNull();
    expect(dbmate.invalidNameReason('1_a.up.sql')).toContain('set "format": "golang-migrate"');
    expect(golangMigrate.invalidNameReason('20240101120000_x.sql')).toContain('set "format" in dbguard.config.json');
  });
});
