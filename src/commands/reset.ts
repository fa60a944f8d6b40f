/**
 * `dbguard reset [--yes]`: empties the database. Double opt-in: on a terminal, type the database's
 * name; elsewhere, --yes plus DBGUARD_CONFIRM_RESET=<dbname>. Nothing changes before that.
 */
import { DbguardError, ExitCode } from '../core/errors.js';
import { databaseRef } from '../engine/identity.js';
import { resetDatabase } from '../engine/reset.js';
import { assertLocalOrAllowed } from '../engine/session.js';
import { ask } from '../ui/prompt.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

export async function resetCommand(ctx: CommandContext, options: { yes?: boolean; snapshot?: boolean; disconnect?: boolean }): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const ref = databaseRef(settings);
  if (ref.target) assertLocalOrAllowed(settings, ref.target);
  const name = ref.database;
  const what = ref.kind === 'embedded' ? `the embedded database "${name}" (all its data)` : `every schema of "${name}" (all their data)`;
  const envConfirm = ctx.env.DBGUARD_CONFIRM_RESET;

  if (options.yes && envConfirm !== undefined) {
    if (envConfirm !== name) {
      throw new DbguardError('CONFIRMATION_MISMATCH', `DBGUARD_CONFIRM_RESET is "${envConfirm}", but the database is "${name}"; nothing was changed`, { hint: `DBGUARD_CONFIRM_RESET=${name} dbguard reset --yes` });
    }
  } else if (ctx.canPrompt) {
    ctx.out.line(`This deletes ${what}.`);
    const typed = await ask(`Type the database name (${name}) to confirm: `);
    if (typed !== name) throw new DbguardError('CONFIRMATION_MISMATCH', `"${typed}" is not "${name}"; nothing was changed`, { hint: 'dbguard reset   (and type the name exactly)' });
  } else {
    throw new DbguardError('NOT_A_TTY', 'reset deletes data and needs a confirmation: no terminal to ask on, and no --yes with DBGUARD_CONFIRM_RESET', {
      hint: `DBGUARD_CONFIRM_RESET=${name} dbguard reset --yes`,
    });
  }
  const result = await resetDatabase(settings, { noSnapshot: options.snapshot === false, disconnect: options.disconnect ?? false });
  ctx.out.line(`reset ${result.kind} database "${name}": removed ${result.removed.join(', ')}`);
  if (result.snapshot) ctx.out.line(`undo: dbguard undo   (restores snapshot ${result.snapshot.name}, taken just before)`);
  else ctx.out.note(ctx.out.c.yellow('no snapshot was taken (--no-snapshot or "snapshots": false): this cannot be undone'));
  ctx.out.line('next: dbguard migrate   (or your own migrator, then dbguard capture)');
  return { exitCode: ExitCode.ok, json: { database: name, kind: result.kind, removed: result.removed, snapshot: result.snapshot?.name ?? null } };
}
