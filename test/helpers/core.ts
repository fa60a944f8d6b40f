import { buildCatalog, type Catalog } from '../../src/core/catalog.js';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import type { MigrationCache } from '../../src/core/cache.js';
import type { DownSql, TrackedMigration } from '../../src/core/plan.js';

/** A disk listing with up and down files for each version: `files(445, 446)`. */
export function filesFor(...versions: Array<number | bigint>): string[] {
  return versions.flatMap((v) => [`${v}_m${v}.up.sql`, `${v}_m${v}.down.sql`]);
}

export function catalogOf(...versions: Array<number | bigint>): Catalog {
  return buildCatalog(filesFor(...versions), golangMigrate);
}

export function cacheOf(versions: Array<number | bigint>, database?: string): MigrationCache {
  return {
    database,
    migrations: new Map(versions.map((v) => [BigInt(v), { filename: `${v}_m${v}.up.sql`, downCaptured: true }])),
  };
}

export function trackedOf(...versions: Array<number | bigint>): TrackedMigration[] {
  return versions.map((v) => ({ version: BigInt(v), filename: `${v}_m${v}.up.sql`, hasDownSql: true }));
}

export function downSqlFromTracking(...versions: Array<number | bigint>): Map<bigint, DownSql> {
  return new Map(versions.map((v) => [BigInt(v), {
    version: BigInt(v), filename: `${v}_m${v}.up.sql`, sql: `DROP TABLE t${v};`, origin: 'tracking-table' as const,
  }]));
}
