/** The hook's slow paths (database and git), loaded only when the clean check found work to do. */
import type { Settings } from '../core/settings.js';
import { formatOf } from '../formats/index.js';
import { isDbguardError } from '../core/errors.js';
import { holdsApplied } from '../core/plan.js';
import { readSchemaVersion } from '../db/schema-migrations.js';
import { captureAppliedMigrations } from '../engine/capture.js';
import { embeddedServerFor } from '../engine/embedded.js';
import { gitHistorySource, previousTreeSource } from '../engine/down-sql.js';
import { planAndRebuildCache, runRollback } from '../engine/rollback.js';
import { withSession } from '../engine/session.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { lockTimeoutMs } from '../fs/lock-file.js';
import { readDiskState } from '../fs/migrations-dir.js';
import type { HookIo } from './hook-io.js';
import { listVersions } from '../core/text.js';
import { foreseenRefusal } from '../core/refusals.js';
import { describeKeptLines, snapshotSkippedLine } from './plan-view.js';

export { worktreeAdded } from './worktree.js';

/** The hook's bound for all of its database work (DESIGN §4): git never waits longer than this. */
const deadlineFor = (settings: Settings) => Date.now() + settings.timeouts.hookMs;

export async function captureFromRevision(settings: Settings, rev: string, io: HookIo): Promise<void> {
  const dir = absoluteMigrationsDir(settings);
  const deadline = deadlineFor(settings);
  const sources = [previousTreeSource(settings.root, rev, settings.migrationsDir, formatOf(settings)), gitHistorySource(settings.root, settings.migrationsDir, formatOf(settings))];
  const result = await withSession(settings, { destructive: true, deadline, lockWaitMs: Math.min(lockTimeoutMs(), settings.timeouts.hookMs) }, (session) =>
    captureAppliedMigrations(session, dir, readDiskState(dir, session.format), sources));
  if (result.captured.length) io.err(`dbguard: captured down SQL for ${listVersions(result.captured)} from ${rev.slice(0, 12)}`);
}

export async function autoRollback(settings: Settings, prev: string, where: string, io: HookIo): Promise<void> {
  io.err(`dbguard: ${where} lacks migrations the database has applied; rolling them back (onConflict: "rollback")`);
  const deadline = deadlineFor(settings);
  const run = await withSession(settings, { destructive: true, deadline, lockWaitMs: Math.min(lockTimeoutMs(), settings.timeouts.hookMs) }, (session) =>
    runRollback(session, settings, {
      extraSources: [previousTreeSource(settings.root, prev, settings.migrationsDir, formatOf(settings))],
      deadline,
      report: (event) => {
        if (event.type === 'step-done') io.err(`  ✓ ${event.version}  ${event.filename}  ${event.ms.toFixed(0)} ms${event.note ? `  (${event.note})` : ''}`);
        if (event.type === 'step-failed') io.err(`  ✗ ${event.version}  ${event.filename}: ${event.message}`);
        if (event.type === 'step-replayed') io.err(`  ↺ ${event.version}  ${event.filename}: its down failed, so ${event.replayed.join(', ')} were rolled back first and re-applied after`);
      },
    }));
  const { plan } = run;
  if (plan.kind === 'refuse') {
    io.err(`dbguard: not rolled back (${plan.reason}): ${plan.message}\n  next: ${plan.fix}`);
  } else if (plan.kind === 'rollback') {
    io.err(`dbguard: rolled back ${plan.steps.length} migration${plan.steps.length === 1 ? '' : 's'}; database at ${plan.to ?? 'nothing applied'}`);
    const kept = run.outcome?.kept ?? [];
    for (const line of describeKeptLines(kept, 'dbguard migrate')) io.err(`  ${line}`);
    if (run.snapshot) io.err(`  undo: dbguard undo   (snapshot ${run.snapshot.name})`);
    if (run.snapshotSkipped) io.err(`  ${snapshotSkippedLine(run.snapshotSkipped, '"snapshots": { "disconnect": true } in dbguard.config.json')}`);
    if (run.outcome?.schema.state === 'drift') io.err(`dbguard: warning: ${run.outcome.schema.message}`);
  }
}

/**
 * No cache while a database exists (a deleted state dir, a clean clone of the state): one full check
 * against the database instead of silence (§2), which also rebuilds the cache for the next checkout.
 */
export async function checkWithoutCache(settings: Settings, prev: string, where: string, io: HookIo, reason = 'the cache was missing'): Promise<boolean> {
  const planned = await withSession(settings, { destructive: false, deadline: deadlineFor(settings) }, (session) =>
    planAndRebuildCache(session, settings, { extraSources: [previousTreeSource(settings.root, prev, settings.migrationsDir, formatOf(settings))] }));
  if (planned.plan.kind === 'clean') return true;
  if (settings.onConflict === 'rollback' && planned.plan.kind === 'rollback') {
    await autoRollback(settings, prev, where, io);
    return false;
  }
  const versions = planned.candidates.map((c) => c.version);
  io.err(`dbguard: ${where} lacks ${versions.length} migration${versions.length === 1 ? '' : 's'} the database has applied: ${listVersions(versions)} (checked the database: ${reason})`);
  if (planned.plan.kind === 'refuse') for (const line of foreseenRefusal(planned.plan)) io.err(`  ${line}`);
  else io.err(`  dbguard rollback   roll ${versions.length === 1 ? 'it' : 'them'} back, keeping the data in the other tables`);
  return false;
}

/**
 * §14 for the new files of a checkout: the app may have applied them since dbguard last looked. A
 * database that answers without starting anything (external, or the embedded server running) is asked;
 * what it holds is captured from the working tree (the very files the app applied) and is not new.
 * Returns the versions it holds, or null when it was not asked (stopped, or not answering).
 */
export async function pendingTheDatabaseHolds(settings: Settings, pending: readonly string[], io: HookIo): Promise<bigint[] | null> {
  if (settings.database.kind === 'embedded' && !embeddedServerFor(settings).running()) return null;
  const deadline = deadlineFor(settings);
  const files = pending.map((name) => ({ name, version: formatOf(settings).parseFileName(name)?.version })).filter((f): f is { name: string; version: bigint } => f.version !== undefined);
  let current;
  try {
    current = await withSession(settings, { destructive: false, deadline }, (session) => readSchemaVersion(session.client, session.format));
  } catch (error) {
    if (isDbguardError(error) && (error.code === 'DB_CONNECT_FAILED' || error.code === 'DB_AUTH_FAILED')) return null;
    throw error;
  }
  if (!files.some((f) => holdsApplied(formatOf(settings), current, f.version, f.name))) return [];
  const dir = absoluteMigrationsDir(settings);
  const { cache } = await withSession(settings, { destructive: true, deadline, lockWaitMs: Math.min(lockTimeoutMs(), settings.timeouts.hookMs) }, (session) =>
    captureAppliedMigrations(session, dir, readDiskState(dir, session.format)));
  const held = [...new Set(files.filter((f) => cache.migrations.get(f.version)?.filename === f.name).map((f) => f.version))];
  if (held.length > 0) io.err(`dbguard: ${listVersions(held)} ${held.length === 1 ? 'was' : 'were'} applied without dbguard (your app?): ${held.length === 1 ? 'its' : 'their'} down SQL is captured from the working tree`);
  return held;
}

/** §17: the switch of the worktree's database on a branch checkout, and a switch a kill left unfinished (loaded here, off the clean path). */
export { settlePendingSwitch, switchBranchDatabase } from '../engine/branch-switch.js';
