/**
 * Capture (DESIGN §5): store down SQL for every applied migration the tracking table lacks, prune rows
 * above the database's version, and rewrite the cache from the table. Every file is read and validated
 * before the first write, so bad input changes nothing.
 */
import { withoutDownSql, type MigrationCache, type WithoutDown } from '../core/cache.js';
import { noDownOf } from '../core/no-down.js';
import { maxVersion } from '../core/catalog.js';
import { isLocalHost } from '../core/connection.js';
import type { Settings } from '../core/settings.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import type { DiskState } from '../core/compare.js';
import { holdsApplied, type SchemaVersion } from '../core/plan.js';
import { withAdvisoryLock } from '../db/advisory-lock.js';
import { inTransaction } from '../db/client.js';
import { readFacts, type DatabaseFacts } from '../db/facts.js';
import { lockTimeoutMs } from '../fs/lock-file.js';
import { deleteTracked, ensureTrackingTable, upsertTracked, type TrackingRow } from '../db/tracking.js';
import { readAppliedMigration, readMigrationFile } from '../fs/migration-files.js';
import { rememberFormat, writeCacheFile } from '../fs/state.js';
import { findDownSql, type DownSqlSource } from './down-sql.js';
import type { DbSession } from './db-session.js';
import { restoreStash, stashedUnder, stashKeys } from '../db/stash-restore.js';
import type { StashRestore } from '../core/stash.js';

export interface CaptureResult {
  readonly current: SchemaVersion | null;
  /** How many migrations this run recorded (new, renamed, or looked at again for their down SQL). */
  readonly recorded: number;
  /** Versions whose down SQL this run stored (SQL to run: a blank down is not captured down SQL). */
  readonly captured: readonly bigint[];
  /** Applied versions still without down SQL to run (none anywhere we looked, or a blank one), and why. */
  readonly withoutDownSql: readonly WithoutDown[];
  /** Tracking rows removed because the database is below them. */
  readonly pruned: readonly bigint[];
  /** Rows a rollback kept, put back because the project's own migrator applied their migration again (§13). */
  readonly restored: readonly StashRestore[];
  /**
   * Applied migrations without stored down SQL whose file was edited since: their down SQL was not
   * taken from the edited file (it need not undo what the database ran); --accept-edits takes it.
   */
  readonly editedNotRecorded: ReadonlyArray<{ version: bigint; filename: string }>;
  /** Edits accepted by --accept-edits: the file as it is now counts as applied, with its down SQL. */
  readonly acceptedEdits: ReadonlyArray<{ version: bigint; filename: string }>;
  readonly cache: MigrationCache;
}

export interface CaptureOptions {
  /** Accept up files edited since they were applied: record their new content as what is applied (§2). */
  readonly acceptEdits?: boolean;
  /** What the database says, when the caller read it under the same lock and changed nothing since. */
  readonly facts?: DatabaseFacts;
}

export async function captureAppliedMigrations(
  session: DbSession, migrationsDir: string, disk: DiskState, extraSources: readonly DownSqlSource[] = [], options: CaptureOptions = {},
): Promise<CaptureResult> {
  const { client, format } = session;
  const facts = options.facts ?? await readFacts(client, format);
  const { current, tracked } = facts;
  if (!facts.trackingReady) await ensureTrackingTable(client);
  const byVersion = new Map(tracked.map((row) => [row.version, row]));
  // A dirty version was only half applied (its migrator failed or was cut short, §4): it is not recorded
  // as applied, nor its stash put back, until a repair and `force` say what it is (issue 25.6).
  const halfApplied = current?.dirty ? current.version : null;
  const applicable = tracked.filter((row) => holdsApplied(session.format, current, row.version));
  const maxTracked = maxVersion(applicable.map((row) => row.version));

  const rows = new Map<bigint, TrackingRow>();
  const upSqlOf = new Map<bigint, string | null>();
  const newlyApplied: Array<{ version: bigint; upSha256: string }> = [];
  const editedNotRecorded: Array<{ version: bigint; filename: string }> = [];
  const acceptedEdits: Array<{ version: bigint; filename: string }> = [];
  for (const migration of disk.catalog.migrations) {
    if (migration.up === undefined || !holdsApplied(session.format, current, migration.version, migration.up) || disk.unreadable.has(migration.up)) continue;
    if (migration.version === halfApplied) continue;
    const row = byVersion.get(migration.version);
    // golang-migrate only ever moves up from its version, so files above what we tracked (or everything,
    // on the first run) were applied; an untracked file below is a lower-numbered file it skipped. A
    // tool that keeps a set lists what it applied.
    const isNew = row === undefined && (current?.applied !== undefined || maxTracked === null || migration.version > maxTracked);
    const lacksDown = row !== undefined && !row.hasDownSql && row.filename === migration.up;
    const renamed = row !== undefined && row.filename !== migration.up && Boolean(row.upSha256);
    const mayBeEdited = options.acceptEdits === true && row !== undefined && row.filename === migration.up && Boolean(row.upSha256);
    if (!isNew && !lacksDown && !renamed && !mayBeEdited) continue;
    // §18: an applied file that cannot be read as its tool reads it now is recorded without its down SQL, and why.
    const unreadableDown = migration.down === undefined ? undefined : disk.unreadable.get(migration.down);
    const { up, runnable } = migration;
    const files = unreadableDown === undefined ? readAppliedMigration(format, migrationsDir, { up, down: migration.down, runnable })
      : { ...readAppliedMigration(format, migrationsDir, { up, down: undefined, runnable }), whyNoDown: `down SQL unavailable: ${migration.down} cannot be read (${unreadableDown})` };
    // A rename is adopted only with the same content (§2): a different file under the version is a phantom.
    if (renamed && files.upSha256 !== row?.upSha256) continue;
    const edited = !renamed && Boolean(row?.upSha256) && files.upSha256 !== null && files.upSha256 !== row?.upSha256;
    if (edited && options.acceptEdits !== true) {
      editedNotRecorded.push({ version: migration.version, filename: migration.up });
      continue;
    }
    if (edited) acceptedEdits.push({ version: migration.version, filename: migration.up });
    else if (mayBeEdited && !lacksDown) continue;
    const source = renamed ? 'renamed' : edited ? 'accepted-edit' : 'working-tree';
    if (isNew && files.upSha256 !== null) newlyApplied.push({ version: migration.version, upSha256: files.upSha256 });
    upSqlOf.set(migration.version, files.upSql);
    rows.set(migration.version, {
      version: migration.version, filename: migration.up, downSql: files.downSql, upSha256: files.upSha256, source,
      noDown: noDownOf(files.downSql, files.upSql, files.whyNoDown ?? 'no down SQL', format.blankDown),
    });
  }

  // Applied versions that neither the table nor the working tree can give down SQL for: ask the others.
  const stillLacking = [...applicable.filter((row) => !row.hasDownSql && row.version !== halfApplied), ...rows.values()]
    .filter((row) => (rows.get(row.version)?.downSql ?? null) === null)
    .map((row) => ({ version: row.version, filename: row.filename }));
  const unique = [...new Map(stillLacking.map((c) => [c.version, c])).values()];
  const recovered = extraSources.length > 0 && unique.length > 0 ? await findDownSql(extraSources, unique) : new Map();
  for (const found of recovered.values()) {
    const upSql = found.upSql ?? upSqlOf.get(found.version) ?? null;
    rows.set(found.version, {
      version: found.version, filename: found.filename, downSql: found.sql, upSha256: rows.get(found.version)?.upSha256 ?? null, source: found.origin,
      noDown: noDownOf(found.sql, upSql, 'no down SQL', format.blankDown),
    });
  }

  const pruned = tracked.filter((row) => !holdsApplied(session.format, current, row.version)).map((row) => row.version);
  const writes = rows.size > 0 || pruned.length > 0;
  if (writes) {
    await inTransaction(client, async () => {
      await upsertTracked(client, [...rows.values()]);
      await deleteTracked(client, pruned);
    });
  }
  const restored = await restoreForNewlyApplied(session, newlyApplied, sameUpOnDisk(migrationsDir, disk));
  // Nothing written: the cache follows from the facts read above; else from the table, read once more.
  const cache = await rewriteCache(session, true, writes ? undefined : facts);
  const written = [...rows.values()];
  return {
    current, recorded: written.length, captured: written.filter((r) => r.downSql !== null && !r.noDown).map((r) => r.version),
    withoutDownSql: withoutDownSql(cache), pruned, cache, restored, editedNotRecorded, acceptedEdits,
  };
}

/** Migrations the project's own migrator applied again: the rows a rollback kept for them go back. */
async function restoreForNewlyApplied(
  session: DbSession, applied: ReadonlyArray<{ version: bigint; upSha256: string }>, sameUp: (version: bigint, upSha256: string) => boolean,
): Promise<StashRestore[]> {
  if (applied.length === 0) return [];
  const keys = await stashKeys(session.client);
  const restored: StashRestore[] = [];
  for (const migration of applied) {
    const from = stashedUnder(keys, migration.version, migration.upSha256, sameUp);
    if (from.length === 0) continue;
    await inTransaction(session.client, async () => {
      restored.push(...(await restoreStash(session.client, migration.version, migration.upSha256, from, 'keep')));
    });
  }
  return restored;
}

/**
 * Whether the up file on disk at `version` has this sha256. A file that cannot be read counts as the
 * same: a stash is moved to another version only when the file it was kept for is known to be gone.
 */
export function sameUpOnDisk(dir: string, disk: DiskState): (version: bigint, upSha256: string) => boolean {
  return (version, upSha256) => {
    const up = disk.catalog.byVersion.get(version)?.up;
    if (up === undefined) return false;
    if (disk.unreadable.has(up)) return true;
    try {
      return readMigrationFile(dir, up).sha256 === upSha256;
    } catch {
      return true;
    }
  };
}

/**
 * The cache is derived from the tracking table: applied versions, and whether each one's down SQL is held.
 * `facts`: the database as the caller read it, when nothing changed since (no second read).
 */
export async function rewriteCache(session: DbSession, durable = true, facts?: Pick<DatabaseFacts, 'current' | 'tracked'>): Promise<MigrationCache> {
  const cache = cacheOf(session, facts ?? await readFacts(session.client, session.format));
  writeCacheFile(session.ref.paths.cacheFile, cache, session.format, durable);
  rememberFormat(session.ref.paths.stateDir, session.format);
  return cache;
}

/** The cache the tracking rows and the version say (nothing read, nothing written). */
export function cacheOf(session: Pick<DbSession, 'ref' | 'format'>, facts: Pick<DatabaseFacts, 'current' | 'tracked'>): MigrationCache {
  const { current } = facts;
  const tracked = current === null ? [] : facts.tracked.filter((row) => holdsApplied(session.format, current, row.version));
  return {
    database: session.ref.identity,
    migrations: new Map(tracked.map((row) => [row.version, {
      filename: row.filename, downCaptured: row.hasDownSql && !row.noDown, ...(row.upSha256 ? { upSha256: row.upSha256 } : {}), ...(row.noDown ? { noDown: row.noDown } : {}),
    }])),
    ...(current?.dirty ? { dirty: current.version } : {}),
  };
}

/**
 * §2: a lost cache is rebuilt by any command that reaches the database. From the tracking table when
 * it has rows (reading only); otherwise a first capture, when this host may be written to (§6).
 * `unseen`: applied migrations the table lacks that a plan found in the database (§14: the app applied
 * them), recorded with the down SQL found for them so the cache lists them and the next check without
 * the database gives the same answer.
 */
export async function recoverCache(
  session: DbSession, settings: Settings, disk: DiskState, unseen: readonly TrackingRow[] = [], known?: DatabaseFacts,
): Promise<MigrationCache> {
  const facts = known ?? await readFacts(session.client, session.format);
  const mayWrite = isLocalHost(session.target.host) || settings.allowRemote;
  if (!mayWrite || (facts.tracked.length > 0 && unseen.length === 0)) return rewriteCache(session, true, facts);
  const migrationsDir = absoluteMigrationsDir(settings);
  // A read-only session (status, check, the hook's check) writes only here, so it takes the locks for this step itself.
  return withAdvisoryLock(session.client, session.format, lockTimeoutMs(), async () => {
    // The first capture before the unseen rows: it judges what is applied from what it tracked before
    // (read again under the lock: another run may have captured meanwhile).
    const first = facts.tracked.length === 0 ? await captureAppliedMigrations(session, migrationsDir, disk) : null;
    if (unseen.length === 0) return first?.cache ?? rewriteCache(session);
    if (first === null && !facts.trackingReady) await ensureTrackingTable(session.client);
    await upsertTracked(session.client, unseen);
    return rewriteCache(session);
  });
}
