/** `dbguard migrate`: pending up migrations, golang-migrate style, each one's down SQL captured. */
import { assertCatalogUsable, maxVersion, type Migration } from '../core/catalog.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { DbguardError } from '../core/errors.js';
import { appliedSet, pendingMigrations, rollbackCandidates, type DownSql, type ReplayStep } from '../core/plan.js';
import { requiresNoTransaction } from '../core/sql.js';
import { replay } from '../db/rollback-executor.js';
import { readTrackedDownSql } from '../db/tracking.js';
import type { DatabaseState } from './state.js';
import type { Settings } from '../core/settings.js';
import { applyUpMigrations, type UpMigration } from '../db/migrate.js';
import type { AppliedStep } from '../db/rollback-executor.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readMigrationSql } from '../fs/migration-files.js';
import { isBlankSql } from '../core/sql.js';
import { captureAppliedMigrations } from './capture.js';
import { checkReached, recordStart, recordingChanges, type SchemaCheck } from './schema-check.js';
import type { Reporter } from '../core/events.js';
import { adoptRenames, readDatabaseState } from './rollback.js';
import type { DbSession } from './session.js';
import { listVersions } from '../core/text.js';
import type { Snapshot } from '../core/snapshot.js';
import { snapshotBefore } from './snapshot.js';
import { newStashContext } from '../db/stash.js';
import { stashKeys } from '../db/stash-restore.js';
import type { StashRestore } from '../core/stash.js';
import { belowTopRule, projectFormat } from '../formats/index.js';

export interface MigrateResult {
  readonly pending: readonly UpMigration[];
  /** Of those, the ones below the applied top. */
  readonly outOfOrder: readonly bigint[];
  /** The live schema against the record for the version reached (§11); null when nothing was applied. */
  readonly schema?: SchemaCheck | null;
  /** With --replay: the applied migrations rolled back first (then applied again in order). */
  readonly rewound?: readonly bigint[];
  /** The snapshot taken before a rewind. */
  readonly snapshot?: Snapshot | null;
  /** The sessions that kept the rewind from taking its snapshot (it went on, the stash keeping the rows). */
  readonly snapshotSkipped?: readonly string[] | null;
  /** Rows a rollback kept, put back as their migrations were applied again (§13). */
  readonly restored?: readonly StashRestore[];
  readonly applied: readonly AppliedStep[];
  /** Applied versions that have no down SQL anywhere: they cannot be rolled back. */
  readonly withoutDownSql: readonly bigint[];
}

export interface MigrateOptions {
  readonly dryRun?: boolean;
  /** Refuse out-of-order pending migrations instead of applying them (§10). */
  readonly strict?: boolean;
  /** Rewind the applied migrations above the lowest out-of-order one, then apply all in version order (§10). */
  readonly replay?: boolean;
  /** --no-snapshot: no snapshot before a rewind (§12). */
  readonly noSnapshot?: boolean;
  /** --disconnect: end the app's sessions for the snapshot before a rewind (§14). */
  readonly disconnect?: boolean;
}

/**
 * `--replay`: the applied migrations above the lowest out-of-order pending one, rolled back highest
 * first with the down SQL stored for them; refused (nothing changed) when one has none, or cannot run in
 * a transaction. Rows in the tables they drop go with them: the person asked for a replay.
 */
async function rewindSteps(session: DbSession, state: DatabaseState, lowest: bigint): Promise<ReplayStep[]> {
  const top = state.current?.version as bigint;
  const applied = appliedSet({ catalog: state.disk.catalog, current: state.current, tracked: state.tracked, cache: state.cache }, top);
  const above = [...applied.keys()].filter((v) => v > lowest).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const downs = await readTrackedDownSql(session.client, above.map((version) => ({ version, filename: applied.get(version) })));
  const lacking = above.filter((v) => { const d = downs.get(v)?.sql; return d === undefined || isBlankSql(d) || requiresNoTransaction(d); });
  if (lacking.length > 0) {
    throw new DbguardError('NO_DOWN_SQL', `cannot replay: ${listVersions(lacking)} ${lacking.length === 1 ? 'has' : 'have'} no stored down SQL that runs in a transaction; nothing was changed`, {
      hint: projectFormat.outOfOrder === 'refused'
        ? `give the ones below ${listVersions(above.slice(0, 1))} new versions above it (${belowTopRule(projectFormat, 2, 'does')} where they are)`
        : 'dbguard migrate   (without --replay: applies the out-of-order ones where they are)',
      details: { versions: lacking.map(String) },
    });
  }
  const left = new Set(applied.keys());
  return above.map((version): ReplayStep => {
    left.delete(version);
    return { kind: 'replay-down', version, filename: applied.get(version) ?? (downs.get(version) as DownSql).filename, sql: (downs.get(version) as DownSql).sql, after: maxVersion(left) };
  });
}

export async function migratePending(session: DbSession, settings: Settings, report: Reporter, options: MigrateOptions = {}): Promise<MigrateResult> {
  const dryRun = options.dryRun ?? false;
  const dir = absoluteMigrationsDir(settings);
  const state = await readDatabaseState(session, settings);
  const { catalog } = state.disk;
  assertCatalogUsable(catalog, settings.migrationsDir);
  if (state.current?.dirty) {
    throw new DbguardError('DIRTY', `database is dirty at version ${state.current.version}: a migration was only half applied`, {
      hint: `repair what it left half done, then dbguard force ${state.current.version}   (dbguard reset only as a last resort)`,
    });
  }
  // A renamed applied file with the same content is the same migration (§2), here as in check and rollback.
  const tracked = await adoptRenames(settings, state);
  const phantoms = rollbackCandidates({ catalog, current: state.current, tracked, cache: state.cache });
  if (phantoms.length > 0) {
    throw new DbguardError('DATABASE_AHEAD', `the database has migrations this branch lacks: ${listVersions(phantoms.map((p) => p.version))}`, {
      hint: 'dbguard rollback', details: { versions: phantoms.map((p) => p.version.toString()) },
    });
  }
  const top = state.current?.version ?? null;
  // What status and check call pending, counted the same way (§10): above the top, and out of order below it.
  const { ahead, outOfOrder } = pendingMigrations({ catalog, current: state.current, tracked, cache: state.cache });
  // goose refuses them without -allow-missing (dbguard follows the tool it stands in for); --strict refuses them for any tool.
  const refusedByTool = projectFormat.outOfOrder === 'refused' && !options.replay;
  if (outOfOrder.length > 0 && (refusedByTool || options.strict)) {
    throw new DbguardError('OUT_OF_ORDER', `${listVersions(outOfOrder)} ${outOfOrder.length === 1 ? 'is' : 'are'} below the applied version ${top} and not applied (${belowTopRule(projectFormat, outOfOrder.length, refusedByTool ? 'does' : 'would')}); nothing was applied`, {
      hint: refusedByTool ? 'dbguard migrate --replay   (rolls back the ones above, applies them all in order), or give them new versions'
        : 'dbguard migrate   (without --strict: applies them, each in its own transaction, keeping the top version)',
      details: { versions: outOfOrder.map(String) },
    });
  }
  if (options.replay && outOfOrder.length > 0) {
    let rewind = await rewindSteps(session, state, outOfOrder[0] as bigint);
    if (dryRun) {
      const again = await migratePending(session, settings, report, { dryRun: true });
      return { ...again, rewound: rewind.map((s) => s.version) };
    }
    let snapshotSkipped: readonly string[] | null = null;
    const snapshot = await snapshotBefore(session, settings, 'replay', {
      skip: options.noSnapshot ?? false, disconnect: options.disconnect ?? false, onBusy: (sessions) => (snapshotSkipped = sessions),
    });
    if (snapshot) rewind = await rewindSteps(session, await readDatabaseState(session, settings), outOfOrder[0] as bigint);
    await recordStart(session.client, top);
    await recordingChanges(session.client, (recording) => replay(session.client, rewind, settings.stash.enabled ? newStashContext(settings.stash.maxBytes) : null, recording));
    // Now every pending migration is above the version the rewind left: apply them all in order (the
    // rows the rewind kept come back with them).
    const applied = await migratePending(session, settings, report, { dryRun: false });
    return { ...applied, rewound: rewind.map((s) => s.version), snapshot, snapshotSkipped };
  }
  const wanted = new Set([...outOfOrder, ...ahead]);
  // Every file is read and validated before the first change: bad input changes nothing.
  const pending = catalog.migrations.filter((m) => m.up !== undefined && wanted.has(m.version)).map((m) => readPendingMigration(dir, m, top));
  if (dryRun) return { pending, outOfOrder, applied: [], withoutDownSql: pending.filter((m) => m.downSql === null).map((m) => m.version) };
  if (pending.length > 0) await recordStart(session.client, top);
  const stash = { keys: pending.length === 0 ? new Set<string>() : await stashKeys(session.client), restored: [] as StashRestore[] };
  const applied = pending.length === 0 ? [] : await recordingChanges(session.client, (recording) => applyUpMigrations(session.client, pending, report, top, stash, recording));
  const reached = pending.length === 0 ? top : (pending.at(-1)?.recordAs ?? pending.at(-1)?.version ?? top);
  const schema = pending.length === 0 ? null : await checkReached(session.client, reached, [], false);
  const capture = await captureAppliedMigrations(session, dir, state.disk);
  return { pending, outOfOrder, applied, withoutDownSql: capture.withoutDownSql, schema, restored: [...stash.restored, ...capture.restored] };
}

/** A pending migration's files, read and validated as they will be applied. */
function readPendingMigration(dir: string, m: Migration, top: bigint | null): UpMigration {
  const up = readMigrationSql(dir, m.up as string, 'up');
  if (isBlankSql(up.sql)) {
    // golang-migrate would record the version and change nothing: almost always a forgotten file.
    throw new DbguardError('MIGRATION_FILE_INVALID', `${m.up} is empty (no SQL statement); nothing was applied`, { hint: `write the migration's SQL in ${m.up}, or delete it`, details: { file: m.up } });
  }
  return {
    version: m.version, filename: m.up as string, upSql: up.sql, upSha256: up.sha256, downSql: m.down === undefined ? null : readMigrationSql(dir, m.down, 'down').sql,
    // Below the applied top, schema_migrations keeps the top (what golang-migrate compares with).
    ...(top !== null && m.version < top ? { recordAs: top } : {}),
  };
}

/**
 * For a database that does not exist yet every migration on disk is pending: the folder and each file
 * are validated before the embedded cluster is created, so bad input changes nothing (not even that).
 */
export function readAllAsPending(settings: Settings): UpMigration[] {
  const dir = absoluteMigrationsDir(settings);
  const { catalog } = readDiskState(dir);
  assertCatalogUsable(catalog, settings.migrationsDir);
  return catalog.migrations.filter((m) => m.up !== undefined).map((m) => readPendingMigration(dir, m, null));
}
