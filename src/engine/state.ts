/** What the database, the cache and the disk say right now: the input every plan starts from. */
import { assertCacheBelongsTo, type MigrationCache } from '../core/cache.js';
import type { DiskState } from '../core/compare.js';
import { rowsNamingOtherFiles } from '../core/plan.js';
import { DbguardError } from '../core/errors.js';
import type { Settings } from '../core/settings.js';
import { readFacts, type DatabaseFacts } from '../db/facts.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { readCacheFile } from '../fs/state.js';
import type { DbSession } from './session.js';

/** The facts a run reads once (the database's in two round trips) and hands down to its plan and its executor. */
export interface DatabaseState extends DatabaseFacts {
  readonly disk: DiskState;
  readonly cache: MigrationCache | null;
}

export async function readDatabaseState(session: DbSession, settings: Settings): Promise<DatabaseState> {
  const dir = absoluteMigrationsDir(settings);
  const disk = readDiskState(dir, session.format);
  const cache = readCacheFile(session.ref.paths.cacheFile, session.format);
  if (cache) assertCacheBelongsTo(cache, session.ref.identity);
  const onDisk = disk.catalog.migrations.filter((m) => m.up !== undefined).map((m) => m.version);
  const facts = await readFacts(session.client, session.format, onDisk);
  const { current } = facts;
  const other = rowsNamingOtherFiles(current, disk.catalog)[0];
  if (other) {
    throw new DbguardError('TRACKING_ROW_INVALID', `${session.format.trackingTable} holds version '${other.id}', but the file is ${other.file}: ${session.format.name} reads them as two migrations (the version as the file writes it counts); dbguard changed nothing`, {
      hint: `if ${other.file} is what ran, change that row to name it as ${session.format.name} does (psql), then dbguard status`,
      details: { version: other.version.toString(), id: other.id, file: other.file },
    });
  }
  return { disk, cache, ...facts };
}

