import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { buildCatalog, catalogErrors, MAX_VERSION, maxVersion } from '../../src/core/catalog.js';

const parseMigrationName = (file: string) => golangMigrate.parseFileName(file);
const downFileFor = (file: string) => golangMigrate.downFileFor(file);

describe('parseMigrationName', () => {
  it.each([
    ['000445_chat_runtime.up.sql', 445n, 'chat_runtime', 'up'],
    ['445_chat_runtime.down.sql', 445n, 'chat_runtime', 'down'],
    ['20240101120000_add_users.up.sql', 20240101120000n, 'add_users', 'up'],
    ['1_a_b_c.up.sql', 1n, 'a_b_c', 'up'],
    ['9223372036854775807_max.up.sql', MAX_VERSION, 'max', 'up'],
    ['7_name.with.dots.down.sql', 7n, 'name.with.dots', 'down'],
  ])('parses %s', (file, version, name, direction) => {
    expect(parseMigrationName(file)).toEqual({ version, name, direction });
  });

  it.each([
    'README.md', '445.up.sql', '445_.up.sql', 'abc_x.up.sql', '445_x.sql', '445_x.up.SQL', '0_zero.up.sql',
    '9223372036854775808_overflow.up.sql', ' 445_x.up.sql', '445_x.up.sql.bak', '-1_neg.up.sql',
  ])('rejects %s', (file) => {
    expect(parseMigrationName(file)).toBeNull();
  });
});

describe('buildCatalog', () => {
  it('sorts by numeric version, not by name, and pairs up with down', () => {
    const catalog = buildCatalog(['10_b.up.sql', '10_b.down.sql', '9_a.up.sql', '9_a.down.sql', '000011_c.up.sql', '000011_c.down.sql'], golangMigrate);
    expect(catalog.migrations.map((m) => m.version)).toEqual([9n, 10n, 11n]);
    expect(catalog.byVersion.get(11n)).toEqual({ version: 11n, name: 'c', up: '000011_c.up.sql', down: '000011_c.down.sql', runnable: true });
    expect(catalog.issues).toEqual([]);
  });

  it('ignores files that are not migrations', () => {
    const catalog = buildCatalog(['README.md', '.gitkeep', 'seed.sql', 'schema.json', '1_a.up.sql', '1_a.down.sql'], golangMigrate);
    expect(catalog.migrations).toHaveLength(1);
    expect(catalog.issues).toEqual([]);
  });

  it.each([
    ['abc_x.up.sql', 'name must start with a numeric version followed by "_"'],
    ['20240101120000_create_users.sql', 'is one file per version, as dbmate, goose and sql-migrate write them, but the format is golang-migrate (two files per version): set "format" in dbguard.config.json to the tool that wrote it'],
    ['0_zero.up.sql', 'version must be a positive integer'],
    ['99999999999999999999_big.down.sql', 'version does not fit a 64-bit integer'],
    ['12_x.UP.sql', 'name must match <version>_<name>.up.sql or <version>_<name>.down.sql'],
    ['12_x.sql', 'is one file per version, as dbmate, goose and sql-migrate write them, but the format is golang-migrate (two files per version): set "format" in dbguard.config.json to the tool that wrote it'],
  ])('reports %s as a malformed migration name', (file, reason) => {
    const catalog = buildCatalog([file], golangMigrate);
    expect(catalogErrors(catalog)).toEqual([{ code: 'MIGRATION_NAME_INVALID', severity: 'error', file, reason }]);
    expect(catalog.migrations).toEqual([]);
  });

  it('reports a version reused in one direction with different names', () => {
    const catalog = buildCatalog(['445_a.up.sql', '445_b.up.sql', '445_a.down.sql'], golangMigrate);
    expect(catalogErrors(catalog)).toEqual([
      { code: 'MIGRATION_VERSION_REUSED', severity: 'error', version: 445n, files: ['445_a.up.sql', '445_b.up.sql'] },
    ]);
  });

  it('treats leading zeros as the same version', () => {
    const catalog = buildCatalog(['000445_a.down.sql', '445_a.down.sql', '445_a.up.sql'], golangMigrate);
    expect(catalogErrors(catalog)[0]).toMatchObject({ code: 'MIGRATION_VERSION_REUSED', version: 445n });
  });

  it('warns about an up without a down, and a down without an up, without failing', () => {
    const catalog = buildCatalog(['1_a.up.sql', '2_b.down.sql'], golangMigrate);
    expect(catalogErrors(catalog)).toEqual([]);
    expect(catalog.issues).toEqual([
      { code: 'MIGRATION_DOWN_MISSING', severity: 'warning', version: 1n, file: '1_a.up.sql' },
      { code: 'MIGRATION_UP_MISSING', severity: 'warning', version: 2n, file: '2_b.down.sql' },
    ]);
    expect(catalog.byVersion.get(1n)?.down).toBeUndefined();
  });

  it('maps an up file to its down file', () => {
    expect(downFileFor('000445_chat.up.sql')).toBe('000445_chat.down.sql');
  });
});

describe('maxVersion', () => {
  it('is the highest version, or null for none', () => {
    expect(maxVersion([20240101120000n, 3n, 20240301000000n])).toBe(20240301000000n);
    expect(maxVersion([])).toBeNull();
  });
});
