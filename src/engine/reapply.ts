/**
 * `dbguard migrate --reapply <version>`: the way out of an applied migration whose up file was edited
 * since (§2). The database ran the old text, so it is rolled back with the down SQL stored when it was
 * applied (and what is applied above it, highest first), then the files on disk are applied again in
 * version order. A plan first (--dry-run, --json), a snapshot before the first change (§12), and the
 * rows the downs drop are kept and put back as their migrations come back (§13).
 */
import { maxVersion, type Migration } from '../core/catalog.js';
import { DbguardError, isDbguardError } from '../core/errors.js';
import { outsideCause } from '../core/failure-cause.js';
import { appliedSet, holdsApplied, reapplyCommand, type ReplayStep } from '../core/plan.js';
import type { Settings } from '../core/settings.js';
import type { Snapshot } from '../core/snapshot.js';
import { requiresNoTransaction } from '../core/sql.js';
import type { StashEntry, StashRestore, WouldDrop } from '../core/stash.js';
import { listVersions } from '../core/text.js';
import { replay } from '../db/rollback-executor.js';
import { countRowsEachDownDrops, newStashContext } from '../db/stash.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { readMigrationFile } from '../fs/migration-files.js';
import { captureAppliedMigrations, rewriteCache } from './capture.js';
import { readSchemaVersion } from '../db/schema-migrations.js';
import { listStash } from '../db/stash-restore.js';
import { readMigratableState, readUpMigration, rewindSteps } from './migrate.js';
import { checkReached, recordStart, recordingChanges, type SchemaCheck } from './schema-check.js';
import type { DbSession } from './session.js';
import { markChangedWithoutSnapshot, snapshotBefore } from './snapshot.js';

export interface ReapplyPlan {
  readonly version: bigint;
  /** The database's version, before and after (the top stays the top). */
  readonly top: bigint;
  /** Of the migrations applied again, those whose up file differs from what was applied. */
  readonly edited: readonly bigint[];
  /** replay-down from the top to `version`, then replay-up back: one transaction each. */
  readonly steps: readonly ReplayStep[];
}

export interface ReapplyResult {
  readonly plan: ReapplyPlan;
  readonly snapshot?: Snapshot | null;
  readonly snapshotSkipped?: readonly string[] | null;
  /** Rows and values the downs kept (§13), and what of them went back with the ups. */
  readonly kept?: readonly StashEntry[];
  readonly restored?: readonly StashRestore[];
  readonly schema?: SchemaCheck | null;
  /** --dry-run: what each down would drop (kept in the stash, put back by its up), counted as rollback counts it. */
  readonly drops?: ReadonlyMap<bigint, readonly WouldDrop[] | { error: string }>;
  /** --dry-run: stash entries kept before under a re-applied migration, tried again by its up. */
  readonly triedAgain?: ReadonlyMap<bigint, readonly StashEntry[]>;
}

async function planReapply(session: DbSession, settings: Settings, version: bigint): Promise<ReapplyPlan> {
  const { state, applied: input } = await readMigratableState(session, settings);
  const top = state.current?.version ?? null;
  const applied = top === null ? new Map<bigint, string | undefined>() : appliedSet(input, top);
  if (top === null || !applied.has(version)) {
    const onDisk = state.disk.catalog.byVersion.get(version)?.up !== undefined;
    throw new DbguardError('USAGE', `${version} is not applied (the database is at ${top ?? 'nothing applied'}); nothing was changed`, {
      hint: onDisk ? 'dbguard migrate   (applies it)' : 'dbguard status   (lists what is applied)',
    });
  }
  const purpose = {
    action: `re-apply ${version}`, retry: reapplyCommand([version]),
    otherwise: 'dbguard capture --accept-edits if the database already matches the edited file; otherwise undo them by hand (psql)',
  };
  const dir = absoluteMigrationsDir(settings);
  // Capture stores no down SQL from a file edited since it was applied (it need not undo what ran), so
  // "capture, then --reapply" cannot help these: say what can.
  const editedWithoutDown = input.tracked.filter((row) => row.version >= version && applied.has(row.version) && !row.hasDownSql
    && isEditedOnDisk(dir, state.disk.catalog.byVersion.get(row.version)?.up, row)).map((row) => row.version);
  if (editedWithoutDown.length > 0) {
    const one = editedWithoutDown.length === 1;
    throw new DbguardError('NO_DOWN_SQL', `cannot re-apply ${version}: ${listVersions(editedWithoutDown)} ${one ? 'was' : 'were'} edited since applied and no down SQL was stored when ${one ? 'it was' : 'they were'} applied (the edited file's down need not undo what the database ran); nothing was changed`, {
      hint: purpose.otherwise, details: { versions: editedWithoutDown.map(String) },
    });
  }
  const downs = await rewindSteps(session, input, version, purpose);
  const appliedSha = new Map(input.tracked.map((row) => [row.version, row.upSha256 ?? null]));
  // No phantoms (readMigratableState refused them): every version rolled back has its file on disk.
  const ups = downs.map((down) => readUpMigration(session.format, dir, state.disk.catalog.byVersion.get(down.version) as Migration)).reverse();
  const outside = ups.filter((m) => requiresNoTransaction(m.upSql, session.format)).map((m) => m.version);
  if (outside.length > 0) {
    throw new DbguardError('NO_DOWN_SQL', `cannot re-apply ${version}: the up SQL of ${listVersions(outside)} cannot run in a transaction; nothing was changed`, {
      hint: 'dbguard capture --accept-edits if the database already matches the edited file; otherwise undo and apply it by hand (psql)',
      details: { versions: outside.map(String) },
    });
  }
  const edited = ups.filter((m) => { const sha = appliedSha.get(m.version); return sha !== undefined && sha !== null && sha !== m.upSha256; }).map((m) => m.version);
  const left = new Set([...applied.keys()].filter((v) => v < version));
  const replayUps = ups.map((m): ReplayStep => {
    left.add(m.version);
    const was = appliedSha.get(m.version) ?? null;
    return {
      kind: 'replay-up', version: m.version, filename: m.filename, sql: m.upSql, after: maxVersion(left), downSql: m.downSql, upSha256: m.upSha256,
      // What its down keeps is stashed under the up that ran; an edited up brings those rows back all the same.
      ...(was !== null && was !== m.upSha256 ? { keptUnder: was } : {}),
    };
  });
  return { version, top, edited, steps: [...downs, ...replayUps] };
}

/** Whether the up file on disk under the applied name differs from what was applied (unknown or unreadable: no). */
function isEditedOnDisk(dir: string, up: string | undefined, row: { filename: string; upSha256?: string | null }): boolean {
  if (up !== row.filename || !row.upSha256) return false;
  try {
    return readMigrationFile(dir, up).sha256 !== row.upSha256;
  } catch {
    return false;
  }
}

export interface ReapplyOptions {
  readonly dryRun?: boolean;
  readonly noSnapshot?: boolean;
  readonly disconnect?: boolean;
}

export async function reapplyMigration(session: DbSession, settings: Settings, version: bigint, options: ReapplyOptions = {}): Promise<ReapplyResult> {
  let plan = await planReapply(session, settings, version);
  if (options.dryRun) {
    const downs = plan.steps.filter((s) => s.kind !== 'replay-up').map((s) => ({ version: s.version, downSql: s.sql }));
    const drops = await countRowsEachDownDrops(session.client, session.format, downs);
    // What replay's restoreStash takes for each up: the entries under its version and the up they were kept for.
    const stash = await listStash(session.client);
    const triedAgain = new Map(plan.steps.filter((s) => s.kind === 'replay-up')
      .map((s) => [s.version, stash.filter((e) => e.version === s.version && e.upSha256 === (s.keptUnder ?? s.upSha256 ?? null))] as const));
    return { plan, drops, triedAgain };
  }
  let snapshotSkipped: readonly string[] | null = null;
  const snapshot = await snapshotBefore(session, settings, 'replay', {
    skip: options.noSnapshot ?? false, disconnect: options.disconnect ?? false, onBusy: (sessions) => (snapshotSkipped = sessions),
  });
  // The snapshot released the database for a moment: plan again from what it holds now.
  if (snapshot) plan = await planReapply(session, settings, version);
  const { client, format } = session;
  await recordStart(client, format, plan.top);
  const stash = settings.stash.enabled ? newStashContext(settings.stash.maxBytes, session.format) : null;
  try {
    const restored = await recordingChanges(client, (recording) => replay(client, format, plan.steps, stash, recording))
      .catch(async (error: unknown) => { throw await reapplyFailed(session, settings, plan.steps, snapshot, error); });
    const schema = await checkReached(client, format, plan.top, [], false, new Map(), `${listVersions(plan.steps.filter((s) => s.kind === 'replay-up').map((s) => s.version))} applied again`);
    const dir = absoluteMigrationsDir(settings);
    await captureAppliedMigrations(session, dir, readDiskState(dir, format));
    return { plan, snapshot, snapshotSkipped, kept: stash?.kept ?? [], restored, schema };
  } finally {
    // Changed with no snapshot before it: an older snapshot would now also undo this (§12).
    if (!snapshot) markChangedWithoutSnapshot(session);
  }
}

/**
 * A step of the re-apply failed (an edited up with an error in it, a full disk): each step is its own
 * transaction, so the database holds what the steps before it did. Say which step, where the database
 * is, that the rows are kept, and how to go back — never an internal error. The cache follows the database.
 */
async function reapplyFailed(session: DbSession, settings: Settings, steps: readonly ReplayStep[], snapshot: Snapshot | null, error: unknown): Promise<unknown> {
  if (isDbguardError(error)) return error;
  const reached = await readSchemaVersion(session.client, session.format).catch(() => null);
  await rewriteCache(session).catch(() => undefined);
  // A down step is done once its version is no longer applied; an up step once it is applied again.
  const failed = steps.find((s) => holdsApplied(session.format, reached, s.version) === (s.kind !== 'replay-up'));
  const cause = outsideCause(error);
  const what = cause?.what ?? (error as Error).message;
  const where = `the database is at version ${reached?.version ?? 'none'}${reached?.dirty ? ' (dirty)' : ''}; the rows its downs dropped are kept in the stash`;
  const back = snapshot ? `dbguard undo   (puts back the database as it was before the re-apply, from snapshot ${snapshot.name}), or ` : '';
  const onward = cause ? `${cause.first}, then dbguard migrate` : `fix ${failed?.filename ?? 'the failing file'}, then dbguard migrate   (applies the rest; the stash comes back with them)`;
  return new DbguardError(cause?.code ?? 'MIGRATION_FAILED', `re-applying stopped at ${failed ? `${failed.kind === 'replay-up' ? 'applying' : 'rolling back'} ${failed.filename}` : 'a step'}: ${what}; ${where}`, {
    hint: `${back}${onward}`, details: { version: failed?.version.toString() ?? null, databaseVersion: reached?.version.toString() ?? null }, cause: error,
  });
}
