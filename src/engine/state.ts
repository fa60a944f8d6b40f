/** What the database, the cache and the disk say right now: the input every plan starts from. */
import { assertCacheBelongsTo, type MigrationCache } from '../core/cache.js';
import type { DiskState } from '../core/compare.js';
import { rowsNamingOtherFiles, type SchemaVersion, type TrackedMigration } from '../core/plan.js';
import { DbguardError } from '../core/errors.js';
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
  const disk = readDiskState(dir, session.format);
  const cache = readCacheFile(session.ref.paths.cacheFile, session.format);
  if (cache) assertCacheBelongsTo(cache, session.ref.identity);
  const current = await readSchemaVersion(session.client, session.format);
  const other = rowsNamingOtherFiles(current, disk.catalog)[0];
  if (other) {
    throw new DbguardError('TRACKING_ROW_INVALID', `${session.format.trackingTable} holds version '${other.id}', but the file is ${other.file}: ${session.format.name} reads them as two migrations (the version as the file writes it counts); dbguard changed nothing`, {
      hint: `if ${other.file} is what ran, change that row to name it as ${session.format.name} does (psql), then dbguard status`,
      details: { version: other.version.toString(), id: other.id, file: other.file },
    });
  }
  return { disk, cache, current, tracked: await readTracked(session.client) };
}

