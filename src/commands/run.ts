/** `dbguard run [--rollback | --continue] -- <command> [args…]`: the app, with dbguard beside it (DESIGN §14). */
import { formatOf } from '../formats/index.js';
import { DbguardError, ExitCode } from '../core/errors.js';
import { dirtyAdvice } from '../core/plan.js';
import { listVersions, shellQuote } from '../core/text.js';
import { runCommand } from '../engine/run.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import { planJson, printPlan } from './plan-view.js';

export interface RunFlags {
  readonly rollback?: boolean;
  readonly continue?: boolean;
}

export async function runAppCommand(ctx: CommandContext, command: readonly string[], flags: RunFlags): Promise<CommandResult> {
  if (command.length === 0) {
    throw new DbguardError('USAGE', 'dbguard run needs the command to run after "--"', { hint: 'dbguard run -- go run .   (or: dbguard run -- npm run dev)' });
  }
  if (flags.rollback && flags.continue) {
    throw new DbguardError('USAGE', '--rollback and --continue answer the same question two ways; choose one', { hint: `dbguard run --rollback -- ${shellQuote(command)}` });
  }
  const settings = settingsFor(ctx);
  const { out } = ctx;
  const outcome = await runCommand(settings, {
    command, rollback: flags.rollback === true || (settings.onConflict === 'rollback' && !flags.continue), continueAnyway: flags.continue === true,
    report: out.progress(), say: (line) => out.note(`dbguard: ${line}`),
  });
  if (outcome.kind === 'conflict') {
    const dirty = outcome.plan.kind === 'refuse' && outcome.plan.reason === 'DIRTY' ? outcome.plan.versions[0] ?? null : null;
    if (dirty === null) {
      out.note(`dbguard: not started: the database has migrations this branch lacks`);
      printPlan(out, outcome.plan, formatOf(settings), true);
      // A rollback that would refuse (UNTRACKED, NO_DOWN_SQL, …) is no way on: its fix is.
      if (outcome.plan.kind === 'refuse') out.note(`  next: ${outcome.plan.fix}`);
      else out.note(`  dbguard run --rollback -- ${shellQuote(command)}   roll them back first (the stash keeps their rows)`);
    } else {
      // A rollback cannot help here: the half-applied migration is repaired first (§4).
      out.note(`dbguard: not started: the database is dirty at ${dirty} (${dirtyAdvice(dirty).what})`);
      out.note(`  ${dirtyAdvice(dirty).fix}`);
    }
    out.note(`  dbguard run --continue -- ${shellQuote(command)}   start anyway`);
    return { exitCode: ExitCode.actionNeeded, json: { started: false, plan: planJson(outcome.plan) } };
  }
  if (outcome.captured.length > 0) out.note(`dbguard: captured down SQL for ${listVersions(outcome.captured)} as ${outcome.captured.length === 1 ? 'it was' : 'they were'} applied`);
  if (outcome.dirty !== null) {
    // The app's migrator stopped half way through it (§4): not applied, so neither captured nor its stash put back.
    out.note(`dbguard: ${outcome.dirty} failed: the database is dirty at ${outcome.dirty} (${dirtyAdvice(outcome.dirty).what}), so it is not recorded as applied`);
    out.note(`  next: ${dirtyAdvice(outcome.dirty).fix}`);
  }
  return { exitCode: outcome.code, json: { started: true, exitCode: outcome.code, captured: outcome.captured, rolledBack: outcome.rolledBack, dirty: outcome.dirty } };
}
