/** The format seam (issue 19): golang-migrate's facts in one module, as data and SQL strings. */
import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { belowTopRule } from '../../src/formats/index.js';

describe('golang-migrate\'s format module', () => {
  it('records a version exactly as golang-migrate does: cleared, then one row; nothing applied is no row, a dirty nothing is NilVersion', () => {
    expect(golangMigrate.setVersionSql(447n, false)).toBe('DELETE FROM schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (447, false);');
    expect(golangMigrate.setVersionSql(null, false)).toBe('DELETE FROM schema_migrations;');
    expect(golangMigrate.setVersionSql(null, true)).toBe('DELETE FROM schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (-1, true);');
    expect(golangMigrate.versionFromRow({ version: '-1', dirty: true })).toEqual({ version: 0n, dirty: true });
    expect(golangMigrate.versionFromRow(undefined)).toBeNull();
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
