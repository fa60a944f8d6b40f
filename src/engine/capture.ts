/**
 * Capture (DESIGN §5): store down SQL for every applied migration the tracking table lacks, prune rows
 * above the database's version, and rewrite the cache from the table. Every file is read and validated
 * before the first write, so bad input changes nothing.
 */
import type { MigrationCache } from '../core/cache.js';
import type { DiskState } from '../core/compare.js';
import type { SchemaVersion } from '../core/plan.js';
import { readSchemaVersion } from '../db/schema-migrations.js';
import { deleteTracked, ensureTrackingTable, readTracked, upsertTracked, type TrackingRow } from '../db/tracking.js';
import { readMigrationFile } from '../fs/migration-files.js';
import { writeCacheFile } from '../fs/state.js';
import { findDownSql, type DownSqlSource } from './down-sql.js';
import type { DbSession } from './session.js';

export interface CaptureResult {
  readonly current: SchemaVersion | null;
  /** Versions whose down SQL was stored by this run. */
  readonly captured: readonly bigint[];
  /** Applied versions still without down SQL (no down file anywhere we looked). */
  readonly withoutDownSql: readonly bigint[];
  /** Tracking rows removed because the database is below them. */
  readonly pruned: readonly bigint[];
  readonly cache: MigrationCache;
}

export async function captureAppliedMigrations(
  session: DbSession, migrationsDir: string, disk: DiskState, extraSources: readonly DownSqlSource[] = [],
): Promise<CaptureResult> {
  const { client } = session;
  const current = await readSchemaVersion(client);
  await ensureTrackingTable(client);
  const tracked = await readTracked(client);
  const byVersion = new Map(tracked.map((row) => [row.version, row]));
  const top = current?.version ?? 0n;
  const applicable = tracked.filter((row) => row.version <= top);
  const maxTracked = applicable.reduce<bigint | null>((max, row) => (max === null || row.version > max ? row.version : max), null);

  const rows = new Map<bigint, TrackingRow>();
  for (const migration of disk.catalog.migrations) {
    if (migration.up === undefined || migration.version > top || disk.unreadable.has(migration.up)) continue;
    const row = byVersion.get(migration.version);
    // golang-migrate only ever moves up from its version, so files above what we tracked (or everything,
    // on the first run) were applied; an untracked file below is a lower-numbered file it skipped.
    const isNew = row === undefined && (maxTracked === null || migration.version > maxTracked);
    const lacksDown = row !== undefined && !row.hasDownSql && row.filename === migration.up;
    if (!isNew && !lacksDown) continue;
    const up = readMigrationFile(migrationsDir, migration.up);
    const down = migration.down !== undefined && !disk.unreadable.has(migration.down) ? readMigrationFile(migrationsDir, migration.down).sql : null;
    rows.set(migration.version, { version: migration.version, filename: migration.up, downSql: down, upSha256: up.sha256, source: 'working-tree' });
  }

  // Applied versions that neither the table nor the working tree can give down SQL for: ask the others.
  const stillLacking = [...applicable.filter((row) => !row.hasDownSql), ...rows.values()]
    .filter((row) => (rows.get(row.version)?.downSql ?? null) === null)
    .map((row) => ({ version: row.version, filename: row.filename }));
  const unique = [...new Map(stillLacking.map((c) => [c.version, c])).values()];
  const recovered = extraSources.length > 0 && unique.length > 0 ? await findDownSql(extraSources, unique) : new Map();
  for (const found of recovered.values()) {
    rows.set(found.version, {
      version: found.version, filename: found.filename, downSql: found.sql, upSha256: rows.get(found.version)?.upSha256 ?? null, source: found.origin,
    });
  }

  const pruned = tracked.filter((row) => row.version > top).map((row) => row.version);
  await client.query('BEGIN');
  try {
    await upsertTracked(client, [...rows.values()]);
    await deleteTracked(client, pruned);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  const cache = await rewriteCache(session);
  const withoutDownSql = [...cache.migrations].filter(([, e]) => !e.downCaptured).map(([v]) => v);
  return { current, captured: [...rows.values()].filter((r) => r.downSql !== null).map((r) => r.version), withoutDownSql, pruned, cache };
}

/** The cache is derived from the tracking table: applied versions, and whether each one's down SQL is held. */
export async function rewriteCache(session: DbSession): Promise<MigrationCache> {
  const current = await readSchemaVersion(session.client);
  const tracked = current === null ? [] : (await readTracked(session.client)).filter((row) => row.version <= current.version);
  const cache: MigrationCache = {
    database: session.ref.identity,
    migrations: new Map(tracked.map((row) => [row.version, { filename: row.filename, downCaptured: row.hasDownSql }])),
  };
  writeCacheFile(session.ref.paths.cacheFile, cache);
  return cache;
}
