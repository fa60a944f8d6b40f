import { describe, expect, it } from 'vitest';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { buildCatalog } from '../../src/core/catalog.js';
import { filesToHash, findPhantomMigrations, hasConflict } from '../../src/core/compare.js';
import { cacheOf, catalogOf, filesFor } from '../helpers/core.js';

const disk = (catalog = catalogOf(445), unreadable = new Map<string, string>()) => ({ catalog, unreadable });

describe('findPhantomMigrations', () => {
  it('is a first run, not a conflict, without a cache', () => {
    const result = findPhantomMigrations(null, disk());
    expect(result).toEqual({ firstRun: true, conflicts: [], adopted: [], edited: [], pending: [] });
    expect(hasConflict(result)).toBe(false);
  });

  it('is clean when every cached file is on disk under the same name', () => {
    const result = findPhantomMigrations(cacheOf([445, 446]), disk(catalogOf(445, 446)));
    expect(result.conflicts).toEqual([]);
    expect(result.firstRun).toBe(false);
  });

  it('lists missing files, highest first', () => {
    const result = findPhantomMigrations(cacheOf([445, 446, 447, 448]), disk(catalogOf(445)));
    expect(result.conflicts.map((c) => [c.version, c.kind])).toEqual([[448n, 'missing'], [447n, 'missing'], [446n, 'missing']]);
  });

  it('reports a renamed file (same version, other name) as a conflict', () => {
    const catalog = buildCatalog([...filesFor(445), '446_other.up.sql', '446_other.down.sql'], golangMigrate);
    const result = findPhantomMigrations(cacheOf([445, 446]), disk(catalog));
    expect(result.conflicts).toEqual([{ version: 446n, filename: '446_m446.up.sql', kind: 'renamed', diskFilename: '446_other.up.sql' }]);
  });

  it('reports an unreadable file (any stat error) as a conflict', () => {
    const result = findPhantomMigrations(cacheOf([445]), disk(catalogOf(445), new Map([['445_m445.up.sql', 'ELOOP']])));
    expect(result.conflicts).toEqual([{ version: 445n, filename: '445_m445.up.sql', kind: 'unreadable', error: 'ELOOP' }]);
  });

  it('lists new files as pending, not as conflicts', () => {
    const result = findPhantomMigrations(cacheOf([445]), disk(catalogOf(445, 446, 447)));
    expect(result.conflicts).toEqual([]);
    expect(result.pending.map((m) => m.version)).toEqual([446n, 447n]);
  });

  it('does not count a lone down file as pending', () => {
    const catalog = buildCatalog([...filesFor(445), '446_x.down.sql'], golangMigrate);
    expect(findPhantomMigrations(cacheOf([445]), disk(catalog)).pending).toEqual([]);
  });

  it('reports missing and pending together (switching to a branch with its own migrations)', () => {
    const result = findPhantomMigrations(cacheOf([445, 446]), disk(catalogOf(445, 500)));
    expect(result.conflicts.map((c) => c.version)).toEqual([446n]);
    expect(result.pending.map((m) => m.version)).toEqual([500n]);
  });

  it('adopts a rename with the same content and reports an edit under the same name (§2)', () => {
    const sha = (c: string) => c.repeat(64);
    const cache = { database: undefined, migrations: new Map([
      [445n, { filename: '445_m445.up.sql', downCaptured: true, upSha256: sha('a') }],
      [446n, { filename: '446_old_name.up.sql', downCaptured: true, upSha256: sha('b') }],
      [447n, { filename: '447_old.up.sql', downCaptured: true, upSha256: sha('c') }],
    ]) };
    const onDisk = disk(buildCatalog([...filesFor(445), '446_new_name.up.sql', '447_other.up.sql'], golangMigrate));
    expect(filesToHash(cache, onDisk, false)).toEqual(['446_new_name.up.sql', '447_other.up.sql']);
    expect(filesToHash(cache, onDisk, true)).toEqual(['445_m445.up.sql', '446_new_name.up.sql', '447_other.up.sql']);
    const result = findPhantomMigrations(cache, onDisk, new Map([['445_m445.up.sql', sha('e')], ['446_new_name.up.sql', sha('b')], ['447_other.up.sql', sha('d')]]));
    expect(result.adopted.map((c) => c.version)).toEqual([446n]);
    expect(result.conflicts.map((c) => [c.version, c.kind])).toEqual([[447n, 'renamed']]);
    expect(result.edited).toEqual([{ version: 445n, filename: '445_m445.up.sql' }]);
  });
});
