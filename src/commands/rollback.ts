/** `dbguard rollback [--dry-run] [--yes]`: show the plan, ask (on a terminal), apply step by step. */
import { formatOf } from '../formats/index.js';
import { DbguardError, ExitCode } from '../core/errors.js';
import type { Plan } from '../core/plan.js';
import { rowsEachStepWouldDrop, runRollback } from '../engine/rollback.js';
import { embeddedNotCreated, withSession } from '../engine/session.js';
import { confirmYes } from '../ui/prompt.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import { describeKeptLines, describeWithoutDown, editedChoices, keptJson, planJson, printPlan, snapshotSkippedLine, type RowsDropped } from './plan-view.js';
import { filesToHash, findPhantomMigrations, type DiskState } from '../core/compare.js';
import type { MigrationCache } from '../core/cache.js';
import type { Settings } from '../core/settings.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { hashFiles } from '../fs/file-hash.js';

export interface RollbackOptions {
  readonly dryRun?: boolean;
  readonly yes?: boolean;
  readonly keepIrreversible?: boolean;
  /** false with --no-snapshot. */
  readonly snapshot?: boolean;
  readonly disconnect?: boolean;
}

export function refusalError(plan: Plan & { kind: 'refuse' }): DbguardError {
  return new DbguardError(plan.reason, plan.message, { hint: plan.fix, details: { versions: plan.versions.map(String) } });
}

export async function rollbackCommand(ctx: CommandContext, options: RollbackOptions): Promise<CommandResult> {
  const { out } = ctx;
  if (!options.dryRun && !options.yes && !ctx.canPrompt) {
    throw new DbguardError('NOT_A_TTY', 'rollback changes the database and needs a confirmation, but there is no terminal to ask on', {
      hint: 'dbguard rollback --yes   (or --dry-run to only see the plan)',
    });
  }
  const settings = settingsFor(ctx);
  if (embeddedNotCreated(settings)) {
    out.line('nothing to roll back: the embedded database has not been created yet');
    return { exitCode: ExitCode.ok, json: { plan: { kind: 'clean', current: null }, applied: [], databaseCreated: false } };
  }
  const started = performance.now();
  let drops: RowsDropped | undefined;
  const run = await withSession(settings, { destructive: !options.dryRun, report: out.progress() }, async (session) => {
    const result = await runRollback(session, settings, {
      report: out.progress(),
      dryRun: options.dryRun ?? false,
      keepIrreversible: options.keepIrreversible ?? false,
      noSnapshot: options.snapshot === false,
      disconnect: options.disconnect ?? false,
      confirm: options.yes ? undefined : async (plan) => {
        drops = await rowsEachStepWouldDrop(session, plan);
        printPlan(out, plan, formatOf(settings), true, drops);
        return confirmYes(`Roll back ${plan.steps.length} migration${plan.steps.length === 1 ? '' : 's'}?`);
      },
    });
    if (options.dryRun && result.plan.kind === 'rollback') drops = await rowsEachStepWouldDrop(session, result.plan);
    return result;
  });
  const { plan, outcome } = run;
  if (plan.kind === 'refuse') throw refusalError(plan);
  if (plan.kind === 'clean') {
    out.line(`nothing to roll back: every applied migration is on disk (database at ${plan.current ?? 'nothing applied'})`);
    // An applied file edited since is not a rollback's to undo; say which command is (issue 25.8).
    const edited = await editedSinceApplied(settings, run.cache, run.state.disk);
    if (edited.length > 0) {
      const choices = editedChoices(edited.map((e) => e.version), edited.filter((e) => !e.downStored).map((e) => e.version));
      out.line(`edited since applied: ${edited.map((e) => e.filename).join(', ')}: ${choices.line}`);
    }
    return { exitCode: ExitCode.ok, json: { plan: planJson(plan), applied: [], edited } };
  }
  if (options.dryRun || !outcome) {
    printPlan(out, plan, formatOf(settings), true, drops);
    out.line(out.c.dim('dry run: nothing was changed. Apply with: dbguard rollback'));
    return { exitCode: ExitCode.ok, json: { dryRun: true, plan: planJson(plan, drops), applied: [] } };
  }
  const ms = performance.now() - started;
  out.line(`rolled back ${outcome.applied.length} migration${outcome.applied.length === 1 ? '' : 's'} in ${ms.toFixed(0)} ms; database at ${plan.to ?? 'nothing applied'}`);
  for (const line of describeKeptLines(outcome.kept, 'dbguard stash list')) out.line(line);
  if (run.snapshot) out.line(`undo: dbguard undo   (restores snapshot ${run.snapshot.name}, taken just before)`);
  if (run.snapshotSkipped) out.note(out.c.yellow(snapshotSkippedLine(run.snapshotSkipped, '--disconnect')));
  for (const line of describeWithoutDown(outcome.capture.withoutDownSql)) out.note(out.c.yellow(`note: ${line}`));
  if (outcome.schema.state === 'drift') out.note(out.c.yellow(`warning: ${outcome.schema.message}`));
  return {
    exitCode: ExitCode.ok,
    json: {
      plan: planJson(plan, drops), snapshot: run.snapshot?.name ?? null, snapshotSkippedFor: run.snapshotSkipped ?? null, kept: outcome.kept.map(keptJson), applied: outcome.applied.map((a) => ({ version: a.version, filename: a.filename, ms: Math.round(a.ms * 100) / 100 })), databaseVersion: plan.to,
      schema: { state: outcome.schema.state, message: outcome.schema.message, diff: outcome.schema.diff ?? null },
    },
  };
}

/** Applied up files whose content differs from what was applied (§2), as the cache the rollback just rewrote says (and the folder it read). */
async function editedSinceApplied(settings: Settings, cache: MigrationCache | null, disk: DiskState): Promise<ReadonlyArray<{ version: bigint; filename: string; downStored: boolean }>> {
  if (cache === null) return [];
  const dir = absoluteMigrationsDir(settings);
  return findPhantomMigrations(cache, disk, await hashFiles(dir, filesToHash(cache, disk, true))).edited
    .map((e) => ({ ...e, downStored: cache.migrations.get(e.version)?.downCaptured === true }));
}
