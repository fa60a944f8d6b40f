/**
 * Capture (DESIGN §5): store down SQL for every applied migration the tracking table lacks, prune rows
 * above the database's version, and rewrite the cache from the table. Every file is read and validated
 * before the first write, so bad input changes nothing.
 */
import type { MigrationCache } from '../core/cache.js';
import { maxVersion } from '../core/catalog.js';
import { isLocalHost } from '../core/connection.js';
import type { Settings } from '../core/settings.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import type { DiskState } from '../core/compare.js';
import { holdsApplied, type SchemaVersion } from '../core/plan.js';
import { withAdvisoryLock } from '../db/advisory-lock.js';
import { inTransaction } from '../db/client.js';
import { readSchemaVersion } from '../db/schema-migrations.js';
import { lockTimeoutMs } from '../fs/lock-file.js';
import { deleteTracked, ensureTrackingTable, readTracked, upsertTracked, type TrackingRow } from '../db/tracking.js';
import { readMigrationSql } from '../fs/migration-files.js';
import { rememberFormat, writeCacheFile } from '../fs/state.js';
import { findDownSql, type DownSqlSource } from './down-sql.js';
import type { DbSession } from './session.js';
import { restoreStash, stashKey, stashKeys } from '../db/stash-restore.js';
import type { StashRestore } from '../core/stash.js';

export interface CaptureResult {
  readonly current: SchemaVersion | null;
  /** Versions whose down SQL was stored by this run. */
  readonly captured: readonly bigint[];
  /** Applied versions still without down SQL (no down file anywhere we looked). */
  readonly withoutDownSql: readonly bigint[];
  /** Tracking rows removed because the database is below them. */
  readonly pruned: readonly bigint[];
  /** Rows a rollback kept, put back because the project's own migrator applied their migration again (§13). */
  readonly restored: readonly StashRestore[];
  readonly cache: MigrationCache;
}

export interface CaptureOptions {
  /** Accept up files edited since they were applied: record their new content as what is applied (§2). */
  readonly acceptEdits?: boolean;
}

export async function captureAppliedMigrations(
  session: DbSession, migrationsDir: string, disk: DiskState, extraSources: readonly DownSqlSource[] = [], options: CaptureOptions = {},
): Promise<CaptureResult> {
  const { client } = session;
  const current = await readSchemaVersion(client);
  await ensureTrackingTable(client);
  const tracked = await readTracked(client);
  const byVersion = new Map(tracked.map((row) => [row.version, row]));
  const applicable = tracked.filter((row) => holdsApplied(current, row.version));
  const maxTracked = maxVersion(applicable.map((row) => row.version));

  const rows = new Map<bigint, TrackingRow>();
  const newlyApplied: Array<{ version: bigint; upSha256: string }> = [];
  for (const migration of disk.catalog.migrations) {
    if (migration.up === undefined || !holdsApplied(current, migration.version, migration.up) || disk.unreadable.has(migration.up)) continue;
    const row = byVersion.get(migration.version);
    // golang-migrate only ever moves up from its version, so files above what we tracked (or everything,
    // on the first run) were applied; an untracked file below is a lower-numbered file it skipped. A
    // tool that keeps a set lists what it applied.
    const isNew = row === undefined && (current?.applied !== undefined || maxTracked === null || migration.version > maxTracked);
    const lacksDown = row !== undefined && !row.hasDownSql && row.filename === migration.up;
    const renamed = row !== undefined && row.filename !== migration.up && Boolean(row.upSha256);
    const mayBeEdited = options.acceptEdits === true && row !== undefined && row.filename === migration.up && Boolean(row.upSha256);
    if (!isNew && !lacksDown && !renamed && !mayBeEdited) continue;
    const up = readMigrationSql(migrationsDir, migration.up, 'up');
    // A rename is adopted only with the same content (§2): a different file under the version is a phantom.
    if (renamed && up.sha256 !== row?.upSha256) continue;
    if (mayBeEdited && up.sha256 === row?.upSha256) continue;
    const down = migration.down !== undefined && !disk.unreadable.has(migration.down) ? readMigrationSql(migrationsDir, migration.down, 'down').sql : null;
    const source = renamed ? 'renamed' : mayBeEdited ? 'accepted-edit' : 'working-tree';
    if (isNew) newlyApplied.push({ version: migration.version, upSha256: up.sha256 });
    rows.set(migration.version, { version: migration.version, filename: migration.up, downSql: down, upSha256: up.sha256, source });
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

  const pruned = tracked.filter((row) => !holdsApplied(current, row.version)).map((row) => row.version);
  await inTransaction(client, async () => {
    await upsertTracked(client, [...rows.values()]);
    await deleteTracked(client, pruned);
  });
  const restored = await restoreForNewlyApplied(session, newlyApplied);
  const cache = await rewriteCache(session);
  const withoutDownSql = [...cache.migrations].filter(([, e]) => !e.downCaptured).map(([v]) => v);
  return { current, captured: [...rows.values()].filter((r) => r.downSql !== null).map((r) => r.version), withoutDownSql, pruned, cache, restored };
}

/** Migrations the project's own migrator applied again: the rows a rollback kept for them go back. */
async function restoreForNewlyApplied(session: DbSession, applied: ReadonlyArray<{ version: bigint; upSha256: string }>): Promise<StashRestore[]> {
  if (applied.length === 0) return [];
  const keys = await stashKeys(session.client);
  const restored: StashRestore[] = [];
  for (const migration of applied.filter((m) => keys.has(stashKey(m.version, m.upSha256)))) {
    await inTransaction(session.client, async () => {
      restored.push(...(await restoreStash(session.client, migration.version, migration.upSha256)));
    });
  }
  return restored;
}

/** The cache is derived from the tracking table: applied versions, and whether each one's down SQL is held. */
export async function rewriteCache(session: DbSession, durable = true): Promise<MigrationCache> {
  const current = await readSchemaVersion(session.client);
  const tracked = current === null ? [] : (await readTracked(session.client)).filter((row) => holdsApplied(current, row.version));
  const cache: MigrationCache = {
    database: session.ref.identity,
    migrations: new Map(tracked.map((row) => [row.version, { filename: row.filename, downCaptured: row.hasDownSql, ...(row.upSha256 ? { upSha256: row.upSha256 } : {}) }])),
  };
  writeCacheFile(session.ref.paths.cacheFile, cache, durable);
  rememberFormat(session.ref.paths.stateDir);
  return cache;
}

/**
 * §2: a lost cache is rebuilt by any command that reaches the database. From the tracking table when
 * it has rows (reading only); otherwise a first capture, when this host may be written to (§6).
 * `unseen`: applied migrations the table lacks that a plan found in the database (§14: the app applied
 * them), recorded with the down SQL found for them so the cache lists them and the next check without
 * the database gives the same answer.
 */
export async function recoverCache(session: DbSession, settings: Settings, disk: DiskState, unseen: readonly TrackingRow[] = []): Promise<MigrationCache> {
  const tracked = await readTracked(session.client);
  const mayWrite = isLocalHost(session.target.host) || settings.allowRemote;
  if (!mayWrite || (tracked.length > 0 && unseen.length === 0)) return rewriteCache(session);
  const migrationsDir = absoluteMigrationsDir(settings);
  // A read-only session (status, check, the hook's check) writes only here, so it takes the locks for this step itself.
  return withAdvisoryLock(session.client, lockTimeoutMs(), async () => {
    // The first capture before the unseen rows: it judges what is applied from what it tracked before.
    if (tracked.length === 0) await captureAppliedMigrations(session, migrationsDir, disk);
    if (unseen.length === 0) return rewriteCache(session);
    await ensureTrackingTable(session.client);
    await upsertTracked(session.client, unseen);
    return rewriteCache(session);
  });
}
