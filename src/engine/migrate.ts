/** `dbguard migrate`: pending up migrations, golang-migrate style, each one's down SQL captured. */
import { assertCatalogUsable, maxVersion, type Migration } from '../core/catalog.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { DbguardError } from '../core/errors.js';
import { appliedSet, dirtyAdvice, pendingMigrations, rollbackCandidates, type DownSql, type ReplayStep } from '../core/plan.js';
import { requiresNoTransaction } from '../core/sql.js';
import { replay } from '../db/rollback-executor.js';
import { readTrackedDownSql } from '../db/tracking.js';
import type { Settings } from '../core/settings.js';
import { applyUpMigrations, type UpMigration } from '../db/migrate.js';
import type { AppliedStep } from '../db/rollback-executor.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readMigrationSql } from '../fs/migration-files.js';
import { isBlankSql } from '../core/sql.js';
import type { WithoutDown } from '../core/cache.js';
import { NO_DOWN_FILE, noDownOf } from '../core/no-down.js';
import { knownRefusal, noDownSqlRefusal } from '../core/refusals.js';
import { captureAppliedMigrations, rewriteCache, sameUpOnDisk } from './capture.js';
import { checkReached, recordStart, recordingChanges, type SchemaCheck } from './schema-check.js';
import type { Reporter } from '../core/events.js';
import { readAppliedInput, readDatabaseState, type AppliedInput, type DatabaseState } from './rollback.js';
import type { DbSession } from './session.js';
import { listVersions } from '../core/text.js';
import type { Snapshot } from '../core/snapshot.js';
import { snapshotBefore } from './snapshot.js';
import { newStashContext } from '../db/stash.js';
import { stashKeys } from '../db/stash-restore.js';
import type { StashRestore } from '../core/stash.js';
import { belowTopRule, formatOf } from '../formats/index.js';
import type { MigrationFormat } from '../core/format.js';

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
  /** Applied versions without down SQL to run (none anywhere, or a blank one), and why. */
  readonly withoutDownSql: readonly WithoutDown[];
  /** Applied by the project's own migrator without capture (§3): not run again, their down SQL captured now. */
  readonly uncaptured?: readonly bigint[];
  /** The pending migration dbguard cannot run that it stopped before (a goose Go migration, §18), or null. */
  readonly stoppedAt?: { readonly version: bigint; readonly filename: string } | null;
  /** The database's version after the run (null: nothing applied). */
  readonly reached?: bigint | null;
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
  /** Set by --replay for the applying half: why the record of the version reached no longer holds (§11). */
  readonly renewed?: string;
}

/** What a rewind is for, in its refusal: "replay", "re-apply 3", and the command that tries again. */
export interface RewindPurpose {
  readonly action: string;
  readonly retry: string;
  /** The way on when a down SQL that cannot help is stored (blank, or outside a transaction). */
  readonly otherwise: string;
}

/**
 * The applied migrations from `from` up, rolled back highest first with the down SQL stored when they
 * were applied (`--replay`, `--reapply`); refused (nothing changed) when one has none, or cannot run in
 * a transaction. Rows in the tables they drop are kept in the stash (§13).
 */
export async function rewindSteps(session: DbSession, input: AppliedInput, from: bigint, purpose: RewindPurpose): Promise<ReplayStep[]> {
  const top = input.current?.version as bigint;
  const applied = appliedSet(input, top);
  const above = [...applied.keys()].filter((v) => v >= from).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  // By version alone: migrate refused phantoms first, so each is the migration on disk (a rename adopted).
  const downs = await readTrackedDownSql(session.client, above.map((version) => ({ version, filename: undefined })));
  const lacking = above.filter((v) => { const d = downs.get(v)?.sql; return d === undefined || isBlankSql(d) || requiresNoTransaction(d, session.format); });
  if (lacking.length > 0) {
    // None stored at all: applied without dbguard seeing it, or with no down file then; capture stores the one on disk.
    const unstored = lacking.filter((v) => !downs.has(v));
    throw new DbguardError('NO_DOWN_SQL', `cannot ${purpose.action}: ${listVersions(lacking)} ${lacking.length === 1 ? 'has' : 'have'} no stored down SQL that runs in a transaction; nothing was changed`, {
      hint: unstored.length > 0 ? `dbguard capture   (stores the down SQL on disk for ${listVersions(unstored)}), then ${purpose.retry}` : purpose.otherwise,
      details: { versions: lacking.map(String) },
    });
  }
  const left = new Set(applied.keys());
  return above.map((version): ReplayStep => {
    left.delete(version);
    return { kind: 'replay-down', version, filename: applied.get(version) ?? (downs.get(version) as DownSql).filename, sql: (downs.get(version) as DownSql).sql, after: maxVersion(left) };
  });
}

/**
 * What every migrate refuses before it changes anything: a half-applied migration, and applied
 * migrations this branch lacks. The applied set is read as rollback, status and check read it: renames
 * adopted (§2), and what the project's own migrator applied untracked (§3) is applied, never run again.
 */
export async function readMigratableState(session: DbSession, settings: Settings): Promise<{ state: DatabaseState; applied: AppliedInput }> {
  const state = await readDatabaseState(session, settings);
  assertCatalogUsable(state.disk.catalog, settings.migrationsDir);
  if (state.current?.dirty) {
    throw new DbguardError('DIRTY', `database is dirty at version ${state.current.version}: ${dirtyAdvice(state.current.version).what}`, {
      hint: `repair what it left half done, then dbguard force ${state.current.version}   (dbguard reset only as a last resort)`,
    });
  }
  const applied = await readAppliedInput(settings, state);
  const phantoms = rollbackCandidates(applied);
  if (phantoms.length > 0) {
    const versions = phantoms.map((p) => p.version);
    // Only a next step that works: a rollback known to refuse is not proposed; its refusal's fix is (§18).
    const refusal = session.format.noDownSql !== undefined
      ? noDownSqlRefusal(versions.map((version) => ({ version, why: null })), session.format, settings.branchDatabases.enabled)
      : state.cache === null ? null : knownRefusal(state.cache, versions, session.format, settings.branchDatabases.enabled);
    throw new DbguardError('DATABASE_AHEAD', `the database has migrations this branch lacks: ${listVersions(versions)}${refusal ? `; a rollback would refuse (${refusal.reason}: ${refusal.message})` : ''}`, {
      hint: refusal ? refusal.fix : 'dbguard rollback', details: { versions: versions.map((v) => v.toString()) },
    });
  }
  return { state, applied };
}

/** A migration's up (and down) file read and validated, before the first change: bad input changes nothing. */
export function readUpMigration(format: MigrationFormat, dir: string, migration: Migration): UpMigration {
  const file = migration.up as string;
  const up = readMigrationSql(format, dir, file, 'up');
  if (isBlankSql(up.sql)) {
    // golang-migrate would record the version and change nothing: almost always a forgotten file.
    throw new DbguardError('MIGRATION_FILE_INVALID', `${file} is empty (no SQL statement); nothing was applied`, { hint: `write the migration's SQL in ${file}, or delete it`, details: { file } });
  }
  return { version: migration.version, filename: file, upSql: up.sql, upSha256: up.sha256, downSql: migration.down === undefined ? null : readMigrationSql(format, dir, migration.down, 'down').sql };
}

export async function migratePending(session: DbSession, settings: Settings, report: Reporter, options: MigrateOptions = {}): Promise<MigrateResult> {
  const dryRun = options.dryRun ?? false;
  const dir = absoluteMigrationsDir(settings);
  const { state, applied: appliedInput } = await readMigratableState(session, settings);
  const { format } = session;
  const { catalog } = state.disk;
  const top = state.current?.version ?? null;
  // What status and check call pending, counted the same way (§10): above the top, and out of order below it.
  const { ahead, outOfOrder, uncaptured } = pendingMigrations(appliedInput);
  // goose refuses them without -allow-missing (dbguard follows the tool it stands in for); --strict refuses them for any tool.
  const refusedByTool = format.outOfOrder === 'refused' && !options.replay;
  if (outOfOrder.length > 0 && (refusedByTool || options.strict)) {
    throw new DbguardError('OUT_OF_ORDER', `${listVersions(outOfOrder)} ${outOfOrder.length === 1 ? 'is' : 'are'} below the applied version ${top} and not applied (${belowTopRule(format, outOfOrder.length, refusedByTool ? 'does' : 'would')}); nothing was applied`, {
      hint: refusedByTool ? 'dbguard migrate --replay   (rolls back the ones above, applies them all in order), or give them new versions'
        : 'dbguard migrate   (without --strict: applies them, each in its own transaction, keeping the top version)',
      details: { versions: outOfOrder.map(String) },
    });
  }
  // Every file is read and validated before the first change: bad input changes nothing. Below the
  // applied top, schema_migrations keeps the top (what golang-migrate compares with).
  const upsOf = (versions: ReadonlySet<bigint>, keptTop: bigint | null): UpMigration[] => catalog.migrations
    .filter((m) => m.up !== undefined && m.runnable && versions.has(m.version))
    .map((m) => ({ ...readUpMigration(format, dir, m), ...(keptTop !== null && m.version < keptTop ? { recordAs: keptTop } : {}) }));
  const planned = (pending: UpMigration[], late: readonly bigint[]): MigrateResult =>
    ({
      pending, outOfOrder: late, uncaptured, applied: [],
      withoutDownSql: pending.map((m) => ({ version: m.version, filename: m.filename, noDown: noDownOf(m.downSql, m.upSql, NO_DOWN_FILE, format.blankDown) })).filter((w) => w.noDown !== null),
    });
  const wanted = new Set([...outOfOrder, ...ahead]);
  if (options.replay && outOfOrder.length > 0) {
    const purpose: RewindPurpose = {
      action: 'replay', retry: 'dbguard migrate --replay',
      otherwise: format.outOfOrder === 'refused'
        ? `give the ones below ${top} new versions above it (${belowTopRule(format, 2, 'does')} where they are)`
        : 'dbguard migrate   (without --replay: applies the out-of-order ones where they are)',
    };
    let rewind = await rewindSteps(session, appliedInput, outOfOrder[0] as bigint, purpose);
    const rewound = rewind.map((s) => s.version);
    // What the run applies after the rewind: the ones rolled back again with everything pending, in
    // version order, all above the version the rewind leaves (none out of order then).
    if (dryRun) return { ...planned(upsOf(new Set([...wanted, ...rewound]), null), []), rewound };
    let snapshotSkipped: readonly string[] | null = null;
    const snapshot = await snapshotBefore(session, settings, 'replay', {
      skip: options.noSnapshot ?? false, disconnect: options.disconnect ?? false, onBusy: (sessions) => (snapshotSkipped = sessions),
    });
    if (snapshot) rewind = await rewindSteps(session, (await readMigratableState(session, settings)).applied, outOfOrder[0] as bigint, purpose);
    await recordStart(session.client, session.format, top);
    await recordingChanges(session.client, (recording) => replay(session.client, session.format, rewind, settings.stash.enabled ? newStashContext(settings.stash.maxBytes, session.format) : null, recording));
    // Now every pending migration is above the version the rewind left: apply them all in order (the
    // rows the rewind kept come back with them).
    const rolledBack = rewind.map((s) => s.version);
    const renewed = `${listVersions(outOfOrder)} applied in version order before ${listVersions([...rolledBack].reverse())} (--replay)`;
    const applied = await migratePending(session, settings, report, { dryRun: false, renewed });
    return { ...applied, rewound: rolledBack, snapshot, snapshotSkipped };
  }
  // §18: one dbguard cannot run (a goose Go migration) is the tool's to apply: migrate stops before it.
  // Every file is read and validated before the first change, those past the stop too: bad input changes nothing.
  const stop = catalog.migrations.find((m) => m.up !== undefined && wanted.has(m.version) && !m.runnable);
  const pending = upsOf(wanted, top).filter((m) => stop === undefined || m.version < stop.version);
  const stoppedAt = stop === undefined ? null : { version: stop.version, filename: stop.up as string };
  if (dryRun) return { ...planned(pending, outOfOrder), stoppedAt };
  if (pending.length > 0) await recordStart(session.client, session.format, top);
  const stash = { keys: pending.length === 0 ? new Set<string>() : await stashKeys(session.client), sameUpOnDisk: sameUpOnDisk(dir, state.disk), restored: [] as StashRestore[] };
  const applied = pending.length === 0 ? [] : await recordingChanges(session.client, (recording) => applyUpMigrations(session.client, session.format, pending, report, top, stash, recording))
    .catch(async (error: unknown) => {
      // Steps before it stay applied, and one that failed outside a transaction left the database dirty:
      // the cache follows the database, so check without it says so too (§4, issue 25.4).
      await rewriteCache(session).catch(() => undefined);
      throw error;
    });
  const reached = pending.length === 0 ? top : (pending.at(-1)?.recordAs ?? pending.at(-1)?.version ?? top);
  // Applied below the top, they change what the top stands for: its record is of another schema (§11).
  const renewed = options.renewed ?? (outOfOrder.length > 0 ? `${listVersions(outOfOrder)} applied out of order below ${top}` : undefined);
  const schema = pending.length === 0 ? null : await checkReached(session.client, session.format, reached, [], false, new Map(), renewed);
  const capture = await captureAppliedMigrations(session, dir, state.disk);
  return {
    pending, outOfOrder, applied, withoutDownSql: capture.withoutDownSql, schema, restored: [...stash.restored, ...capture.restored],
    uncaptured: uncaptured.filter((v) => capture.captured.includes(v)), stoppedAt, reached,
  };
}

/** §18: migrate stopped before a migration only its tool runs: what it did, and the command that goes on. */
export function notRunnableError(format: MigrationFormat, stop: { version: bigint; filename: string }, applied: number, reached: bigint | null, dryRun: boolean): DbguardError {
  const runs = format.notRunnable;
  const before = dryRun ? `would apply ${applied} before it` : applied === 0 ? `nothing applied (database at ${reached ?? 'nothing applied'})` : `applied ${applied} before it (database at ${reached ?? 'nothing applied'})`;
  return new DbguardError('NOT_RUNNABLE', `${stop.filename} is ${runs?.what ?? 'a migration'}, which dbguard cannot run; ${before}`, {
    hint: `${runs?.runWith ?? `${format.name} up`}, then dbguard capture records what it applied`,
    details: { version: stop.version.toString(), file: stop.filename, applied },
  });
}

/** What a first migrate would apply: every runnable migration on disk, validated, and the one it would stop before (§18). */
export interface FirstMigrate {
  readonly pending: readonly UpMigration[];
  readonly stop: { readonly version: bigint; readonly filename: string } | null;
}

/**
 * For a database that does not exist yet every migration on disk is pending: the folder and each file
 * are validated before the embedded cluster is created, so bad input changes nothing (not even that).
 */
export function readAllAsPending(settings: Settings): FirstMigrate {
  const dir = absoluteMigrationsDir(settings);
  const format = formatOf(settings);
  const { catalog } = readDiskState(dir, format);
  assertCatalogUsable(catalog, settings.migrationsDir);
  const onDisk = catalog.migrations.filter((m) => m.up !== undefined);
  const stop = onDisk.find((m) => !m.runnable);
  const all = onDisk.filter((m) => m.runnable).map((m) => readUpMigration(format, dir, m));
  return {
    pending: all.filter((m) => stop === undefined || m.version < stop.version),
    stop: stop === undefined ? null : { version: stop.version, filename: stop.up as string },
  };
}
