/** What the database, the cache and the disk say right now: the input every plan starts from. */
import { assertCacheBelongsTo, type MigrationCache } from '../core/cache.js';
import type { DiskState } from '../core/compare.js';
import type { SchemaVersion, TrackedMigration } from '../core/plan.js';
import type { Settings } from '../core/settings.js';
import { readSchemaVersion } from '../db/schema-migrations.js';
import { readTracked } from '../db/tracking.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { readCacheFile } from '../fs/state.js';
import type { DbSession } from './session.js';

export interface DatabaseState {
  readonly disk: DiskState;
  readonly cache: MigrationCache | null;
  readonly current: SchemaVersion | null;
  readonly tracked: readonly TrackedMigration[];
}

export async function readDatabaseState(session: DbSession, settings: Settings): Promise<DatabaseState> {
  const dir = absoluteMigrationsDir(settings);
  const disk = readDiskState(dir);
  const cache = readCacheFile(session.ref.paths.cacheFile);
  if (cache) assertCacheBelongsTo(cache, session.ref.identity);
  return { disk, cache, current: await readSchemaVersion(session.client), tracked: await readTracked(session.client) };
}

