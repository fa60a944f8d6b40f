/** Plan, then apply: the rollback flow shared by `dbguard rollback` and the auto-rollback hook. */
import { assertCatalogUsable, maxVersion } from '../core/catalog.js';
import { isBlankSql } from '../core/sql.js';
import { appliedSet, planRollback, rollbackCandidates, type Candidate, type DownSql, type OnDiskMigration, type Plan, type PlanInput, type TrackedMigration } from '../core/plan.js';
import { readTrackedDownSql, type TrackingRow } from '../db/tracking.js';
import { readSchemaVersion } from '../db/schema-migrations.js';
import { readAppliedMigration } from '../fs/migration-files.js';
import type { Settings } from '../core/settings.js';
import { DbguardError, isDbguardError } from '../core/errors.js';
import { applyRollbackSteps, type AppliedStep } from '../db/rollback-executor.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { hashFiles } from '../fs/file-hash.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { cacheOf, captureAppliedMigrations, recoverCache, rewriteCache, type CaptureResult } from './capture.js';
import { findDownSql, findUpSql, gitHistorySource, trackingTableSource, workingTreeSource, type DownSqlSource } from './down-sql.js';
import type { Reporter } from '../core/events.js';
import type { DbSession } from './session.js';

import { readDatabaseState, type DatabaseState } from './state.js';
import { checkReached, leftByDowns, recordStart, recordingChanges, type SchemaCheck } from './schema-check.js';
import type { MigrationCache } from '../core/cache.js';
import { writeCacheFile } from '../fs/state.js';
import type { Snapshot } from '../core/snapshot.js';
import { dropSnapshot, markChangedWithoutSnapshot, snapshotBefore } from './snapshot.js';
import { countRowsEachDownDrops, newStashContext } from '../db/stash.js';
import type { StashEntry } from '../core/stash.js';
import { listVersions } from '../core/text.js';

export { readDatabaseState, type DatabaseState };

/**
 * Down SQL sources in DESIGN §3's order: a down file restored on disk, the tracking table, whatever the
 * caller adds (the hook's previous tree), then git history.
 */
export function downSqlSources(session: DbSession, settings: Settings, state: DatabaseState, extra: readonly DownSqlSource[]): DownSqlSource[] {
  return [
    workingTreeSource(absoluteMigrationsDir(settings), state.disk.catalog), trackingTableSource(session.client, state), ...extra,
    gitHistorySource(settings.root, settings.migrationsDir, session.format),
  ];
}

export interface PlannedRollback {
  readonly plan: Plan;
  readonly state: DatabaseState;
  /** What is applied, as the plan read it: pendingMigrations counts from the same input. */
  readonly applied: AppliedInput;
  /** Applied versions missing from disk, and the down SQL found for each (for status reports). */
  readonly candidates: readonly Candidate[];
  readonly downSql: ReadonlyMap<bigint, DownSql>;
}

export interface PlanOptions {
  readonly extraSources?: readonly DownSqlSource[];
  readonly keepIrreversible?: boolean;
}

/**
 * §3's untracked intermediates: when schema_migrations is above everything dbguard tracked, the
 * project's own migrator applied the up files between them that the applying tree had. That tree is the
 * working tree when the top version is on disk, else the newest commit that has its up file.
 */
async function untrackedIntermediates(settings: Settings, state: DatabaseState): Promise<Map<bigint, string>> {
  const found = new Map<bigint, string>();
  const top = state.current?.version;
  if (top === undefined) return found;
  const known = [...state.tracked.map((t) => t.version), ...(state.cache?.migrations.keys() ?? [])].filter((v) => v <= top);
  if (known.includes(top)) return found;
  const floor = maxVersion(known);
  const inGap = (version: bigint) => version <= top && (floor === null || version > floor);
  let files: readonly string[];
  if (state.disk.catalog.byVersion.get(top)?.up !== undefined) {
    files = state.disk.catalog.migrations.map((m) => m.up).filter((f): f is string => f !== undefined);
  } else {
    const { openRepo, isInsideRepo, treeWithVersion } = await import('../git/repo.js');
    const git = openRepo(settings.root);
    if (!(await isInsideRepo(git))) return found;
    files = (await treeWithVersion(git, settings.migrationsDir, top, state.disk.catalog.format))?.files ?? [];
  }
  for (const file of files) {
    const parsed = state.disk.catalog.format.parseFileName(file);
    if (parsed?.direction === 'up' && inGap(parsed.version)) found.set(parsed.version, file);
  }
  return found;
}

/**
 * §2: an applied up file renamed with the same content (sha256) is the same migration under a new
 * name, not a phantom. The plan sees the new name; the next capture records it.
 */
async function adoptRenames(settings: Settings, state: DatabaseState): Promise<TrackedMigration[]> {
  const renamed = state.tracked.filter((row) => {
    const onDisk = state.disk.catalog.byVersion.get(row.version)?.up;
    return row.upSha256 && onDisk !== undefined && onDisk !== row.filename;
  });
  if (renamed.length === 0 || state.disk.catalog.format.renameIsNewMigration) return [...state.tracked];
  const catalog = state.disk.catalog;
  const hashes = await hashFiles(absoluteMigrationsDir(settings), renamed.map((row) => catalog.byVersion.get(row.version)?.up as string));
  return state.tracked.map((row) => {
    const onDisk = catalog.byVersion.get(row.version)?.up;
    return onDisk !== undefined && onDisk !== row.filename && row.upSha256 && hashes.get(onDisk) === row.upSha256 ? { ...row, filename: onDisk } : row;
  });
}

export type AppliedInput = Omit<PlanInput, 'downSql'>;

/**
 * What is applied (§3), as the rollback plan, `status`, `check` and `migrate` all read it: the tracking
 * rows with renames adopted (§2), the cache, and what the project's own migrator applied untracked.
 */
export async function readAppliedInput(settings: Settings, state: DatabaseState): Promise<AppliedInput> {
  const untracked = await untrackedIntermediates(settings, state);
  return { catalog: state.disk.catalog, current: state.current, tracked: await adoptRenames(settings, state), cache: state.cache, untracked, branchDatabasesOn: settings.branchDatabases.enabled };
}

/**
 * The applied migrations on disk above the lowest phantom, with their up SQL (disk) and down SQL
 * (tracking table): what a rewind-and-replay needs if an out-of-order down fails (§3).
 */
async function onDiskAbove(
  session: DbSession, settings: Settings, state: DatabaseState, base: AppliedInput, candidates: readonly Candidate[],
): Promise<Map<bigint, OnDiskMigration>> {
  const found = new Map<bigint, OnDiskMigration>();
  const lowest = candidates.at(-1)?.version;
  const top = state.current?.version;
  if (lowest === undefined || top === undefined) return found;
  const applied = appliedSet(base, top);
  const wanted = state.disk.catalog.migrations.filter((m) => m.up !== undefined && m.version > lowest && applied.has(m.version) && (applied.get(m.version) ?? m.up) === m.up);
  if (wanted.length === 0) return found;
  const downs = await readTrackedDownSql(session.client, wanted.map((m) => ({ version: m.version, filename: m.up })), state.trackingReady || undefined);
  const dir = absoluteMigrationsDir(settings);
  for (const m of wanted) {
    // §18: an applied file its tool cannot read now has no up SQL to replay: no replay passes through it.
    const up = readAppliedMigration(session.format, dir, { up: m.up as string, down: undefined, runnable: m.runnable });
    if (up.upSql === null || up.upSha256 === null) continue;
    found.set(m.version, { filename: m.up as string, upSql: up.upSql, upSha256: up.upSha256, downSql: downs.get(m.version)?.sql ?? null });
  }
  return found;
}

export async function buildRollbackPlan(session: DbSession, settings: Settings, options: PlanOptions = {}): Promise<PlannedRollback> {
  const state = await readDatabaseState(session, settings);
  assertCatalogUsable(state.disk.catalog, settings.migrationsDir);
  const base = await readAppliedInput(settings, state);
  const candidates = rollbackCandidates(base);
  if (candidates.length === 0) return { plan: planRollback({ ...base, downSql: new Map() }), state, applied: base, candidates, downSql: new Map() };
  const sources = downSqlSources(session, settings, state, options.extraSources ?? []);
  const appliedSha = new Map(state.tracked.filter((t) => t.upSha256).map((t) => [t.version, t.upSha256 as string]));
  const downSql = await findDownSql(sources, candidates, appliedSha);
  // An empty down file is a no-op only for a migration that changed data alone: read its up SQL.
  const blank = candidates.filter((c) => { const found = downSql.get(c.version); return found !== undefined && isBlankSql(found.sql); });
  const upSql = new Map([...downSql].filter(([, d]) => d.upSql !== undefined).map(([v, d]) => [v, d.upSql as string]));
  const lackingUp = blank.filter((c) => !upSql.has(c.version));
  if (lackingUp.length > 0) for (const [v, sql] of await findUpSql(sources, lackingUp)) upSql.set(v, sql);
  const onDisk = await onDiskAbove(session, settings, state, base, candidates);
  const plan = planRollback({ ...base, downSql, upSql, onDisk, keepIrreversible: options.keepIrreversible ?? false });
  return { plan, state, applied: base, candidates, downSql };
}

/**
 * No cache while a database exists (a deleted state dir): ask the database instead of calling it
 * clean, and rebuild the cache while there (§2). `check` and the hook both do this.
 */
export async function planAndRebuildCache(session: DbSession, settings: Settings, options: PlanOptions = {}): Promise<PlannedRollback> {
  const planned = await buildRollbackPlan(session, settings, options);
  await recoverCache(session, settings, planned.state.disk, unseenPhantoms(planned), planned.state);
  return planned;
}

/**
 * Phantoms the tracking table lacks (or holds without down SQL, which the plan found), as rows: what the
 * app applied unseen stays known once the database was asked, with the down SQL found for it (from
 * `<prev>`'s tree in the hook). A version whose file name nothing gives cannot be listed.
 */
function unseenPhantoms(planned: PlannedRollback): TrackingRow[] {
  const tracked = new Map(planned.state.tracked.map((row) => [row.version, row]));
  const rows: TrackingRow[] = [];
  for (const candidate of planned.candidates) {
    const row = tracked.get(candidate.version);
    const found = planned.downSql.get(candidate.version);
    const filename = candidate.filename ?? found?.filename;
    if (filename === undefined || row?.hasDownSql) continue;
    const down = found?.filename === filename && found.origin !== 'tracking-table' ? found : undefined;
    if (row !== undefined && (row.filename !== filename || down === undefined)) continue;
    rows.push({ version: candidate.version, filename, downSql: down?.sql ?? null, upSha256: down?.upSha256 ?? null, source: down?.origin ?? 'found-applied' });
  }
  return rows;
}

/** §13: what each step's down would drop, for the plan (and that the stash would keep). */
export async function rowsEachStepWouldDrop(session: DbSession, plan: Plan & { kind: 'rollback' }) {
  return countRowsEachDownDrops(session.client, session.format, plan.steps.map((s) => ({ version: s.version, downSql: s.kind === 'noop' || !s.transactional ? null : s.downSql })));
}

export interface RollbackOutcome {
  readonly applied: readonly AppliedStep[];
  readonly capture: CaptureResult;
  /** The live schema against the record for the version reached (§11). */
  readonly schema: SchemaCheck;
  /** Rows and values the downs would have dropped, kept in `_dbguard` until their migration comes back (§13). */
  readonly kept: readonly StashEntry[];
}

/**
 * Applies the steps, then captures down SQL for what is now applied and rewrites the cache (§4).
 * `before`: the state the plan was made from (the cache after each step follows from it, not a read).
 */
export async function executeRollback(
  session: DbSession, settings: Settings, plan: Plan & { kind: 'rollback' }, report: Reporter, deadline?: number, before?: DatabaseState,
): Promise<RollbackOutcome> {
  let applied: AppliedStep[];
  let record: MigrationCache | null = null;
  await recordStart(session.client, session.format, plan.from);
  const stash = settings.stash.enabled ? newStashContext(settings.stash.maxBytes, session.format) : null;
  try {
    applied = await recordingChanges(session.client, (recording) => applyRollbackSteps(session.client, session.format, plan.steps, report, {
      ...(deadline === undefined ? {} : { deadline }),
      stash,
      recordSteps: recording,
      tablesReady: before !== undefined && before.trackingReady && before.current !== null,
      // After every committed step the cache follows the database, so a kill (SIGKILL runs no handler)
      // leaves it at most one step behind, never claiming less than is applied (§4). Best effort here:
      // the capture at the end reports a record that cannot be written.
      afterEach: async (step) => {
        try {
          // In memory from the facts the plan read (else from the database, once): each step removes
          // exactly its own version, and a committed step leaves the database clean.
          if (record === null && before === undefined) record = await rewriteCache(session, false);
          else {
            const { dirty: _dirty, ...last } = record ?? cacheOf(session, before as DatabaseState);
            const migrations = new Map(last.migrations);
            migrations.delete(step.version);
            record = { ...last, migrations };
            writeCacheFile(session.ref.paths.cacheFile, record, session.format, false);
          }
        } catch {
          record = null; // the next step reads it from the database again
        }
      },
    }));
  } catch (error) {
    // Some steps may have run: the cache must list what is still applied, not what was (§4).
    await rewriteCache(session).catch(() => undefined);
    throw error;
  }
  const dir = absoluteMigrationsDir(settings);
  const downs = plan.steps.map((s) => s.version);
  // Rolled back below the top, they change what the version reached stands for: its record is renewed (§11).
  const below = plan.steps.filter((s) => s.outOfOrder).map((s) => s.version);
  const renewed = below.length > 0 ? `${listVersions(below)} rolled back out of order` : undefined;
  const schema = await checkReached(session.client, session.format, plan.to, downs, true, await leftByDowns(session.client, downs), renewed);
  try {
    // The database changed: the capture reads it again, once (the folder did not: the plan's disk state holds).
    return { applied, capture: await captureAppliedMigrations(session, dir, before?.disk ?? readDiskState(dir, session.format)), schema, kept: stash?.kept ?? [] };
  } catch (error) {
    // The database did change: say exactly how, then why the record could not follow (§4).
    if (!isDbguardError(error) || error.code !== 'STATE_WRITE_FAILED') throw error;
    throw new DbguardError('STATE_WRITE_FAILED', `rolled back ${applied.length}; database at ${plan.to ?? 'nothing applied'}; the record could not be saved: ${error.message}`, {
      hint: `${error.hint ?? 'free some space'}; the next dbguard command that reaches the database re-derives it (dbguard status)`,
      details: { ...error.details, rolledBack: applied.map((a) => a.version.toString()), databaseVersion: plan.to === null ? null : plan.to.toString() },
      cause: error,
    });
  }
}

export interface RunRollbackOptions {
  readonly extraSources?: readonly DownSqlSource[];
  readonly keepIrreversible?: boolean;
  readonly report: Reporter;
  readonly dryRun?: boolean;
  /** Epoch ms after which no further step starts (the hook's bound). */
  readonly deadline?: number;
  /** Asked with the plan before anything changes; false aborts (exit 3, ABORTED). */
  readonly confirm?: (plan: Plan & { kind: 'rollback' }) => Promise<boolean>;
  /** --no-snapshot: no snapshot before the first step (§12). */
  readonly noSnapshot?: boolean;
  /** --disconnect: end the app's sessions for the snapshot (§14); otherwise a connected app means no snapshot. */
  readonly disconnect?: boolean;
}

export interface RollbackRun {
  readonly plan: Plan;
  /** The state the plan was made from (its disk, as read once for this run). */
  readonly state: DatabaseState;
  /** The cache as this run left it (or read it: a dry run, a refusal). */
  readonly cache: MigrationCache | null;
  readonly outcome: RollbackOutcome | null;
  /** The snapshot taken before the first step (what `dbguard undo` restores). */
  readonly snapshot?: Snapshot | null;
  /** §14: the sessions (the app) that kept it from taking one; the rollback went on, the stash keeping the rows. */
  readonly snapshotSkipped?: readonly string[] | null;
}

const stepsOf = (plan: Plan) => (plan.kind === 'rollback' ? plan.steps.map((s) => `${s.version}:${s.kind}`).join(',') : plan.kind);

/**
 * Lock, plan, (confirm,) apply. The plan is built after the lock is held, so a run that waited for
 * another one plans against the state that one left behind.
 */
export async function runRollback(session: DbSession, settings: Settings, options: RunRollbackOptions): Promise<RollbackRun> {
  const planOptions: PlanOptions = { ...(options.extraSources ? { extraSources: options.extraSources } : {}), keepIrreversible: options.keepIrreversible ?? false };
  const { plan, state } = await buildRollbackPlan(session, settings, planOptions);
  let cache = state.cache;
  if (plan.kind === 'clean' && !options.dryRun) {
    // Nothing to undo, but the cache may be stale (a run killed after its last step, another
    // migrator): refresh it so the next hook compares against what the database really holds.
    cache = (await captureAppliedMigrations(session, absoluteMigrationsDir(settings), state.disk, [], { facts: state })).cache;
  }
  if (plan.kind !== 'rollback' || options.dryRun) return { plan, state, cache, outcome: null };
  if (options.confirm && !(await options.confirm(plan))) {
    throw new DbguardError('ABORTED', 'rollback cancelled; nothing was changed', { hint: 'dbguard rollback --dry-run   (to review the plan)' });
  }
  let snapshotSkipped: readonly string[] | null = null;
  const snapshot = await snapshotBefore(session, settings, 'rollback', {
    skip: options.noSnapshot ?? false, disconnect: options.disconnect ?? false, onBusy: (sessions) => (snapshotSkipped = sessions),
  });
  let toApply: Plan & { kind: 'rollback' } = plan;
  let planned = state;
  if (snapshot) {
    // The snapshot released the database for a moment: plan again, and stop if anything changed meanwhile.
    const replanned = await buildRollbackPlan(session, settings, planOptions);
    const again = replanned.plan;
    if (again.kind !== 'rollback' || stepsOf(again) !== stepsOf(plan)) {
      await dropSnapshot(session, snapshot.name).catch(() => undefined);
      throw new DbguardError('ABORTED', `the database changed while the snapshot ${snapshot.name} was taken; nothing was rolled back`, { hint: 'dbguard rollback --dry-run   (to see the new plan)' });
    }
    toApply = again;
    planned = replanned.state;
  }
  let stepsDone = 0;
  const report: Reporter = (event) => {
    if (event.type === 'step-done') stepsDone++;
    options.report(event);
  };
  try {
    const outcome = await executeRollback(session, settings, toApply, report, options.deadline, planned);
    // Changed with no snapshot before it: an older snapshot would now also undo what came between (§12).
    if (!snapshot && stepsDone > 0) markChangedWithoutSnapshot(session);
    return { plan: toApply, state: planned, cache: outcome.capture.cache, snapshot, snapshotSkipped, outcome };
  } catch (error) {
    if (!snapshot && stepsDone > 0) markChangedWithoutSnapshot(session);
    // A rollback that failed before its first step committed changed nothing: its snapshot is only a
    // copy of what is still there, and kept would push a snapshot that matters out of retention.
    if (snapshot && stepsDone === 0 && !(await readSchemaVersion(session.client, session.format).catch(() => ({ dirty: true })))?.dirty) {
      await dropSnapshot(session, snapshot.name).catch(() => undefined);
    }
    throw error;
  }
}
