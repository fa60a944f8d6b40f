/**
 * `dbguard db prune [--dry-run] [--yes]`: drops the databases of removed worktrees and deleted branches.
 * Never the main database, a user's database, one with a session, nor anything when git cannot list
 * the worktrees. A dropped database's snapshots go with it: no command could list or restore them after.
 */
import { DbguardError, ExitCode } from '../core/errors.js';
import { formatBytes } from '../core/text.js';
import type { DatabaseEntry } from '../engine/kept-databases.js';
import { embeddedNotCreated, withSession } from '../engine/session.js';
import { confirmYes } from '../ui/prompt.js';
import { entryJson, goneWords } from './db-list.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const sizeOf = (entries: readonly DatabaseEntry[]) => formatBytes(entries.reduce((sum, d) => sum + (d.bytes ?? 0), 0));

export async function dbPruneCommand(ctx: CommandContext, options: { dryRun?: boolean; yes?: boolean }): Promise<CommandResult> {
  const { out } = ctx;
  if (!options.dryRun && !options.yes && !ctx.canPrompt) {
    throw new DbguardError('NOT_A_TTY', 'db prune drops databases and needs a confirmation, but there is no terminal to ask on', {
      hint: 'dbguard db prune --yes   (or --dry-run to only see what it would drop)',
    });
  }
  const settings = settingsFor(ctx);
  if (embeddedNotCreated(settings)) {
    out.line('nothing to prune: the embedded database has not been created yet');
    return { exitCode: ExitCode.ok, json: { dryRun: options.dryRun ?? false, prunable: [], dropped: [], inUse: [], databaseCreated: false } };
  }
  const { prunable, trustedGitView, pruneDatabases, surveyDatabases } = await import('../engine/kept-databases.js');
  return withSession(settings, { destructive: !options.dryRun, report: out.progress() }, async (session) => {
    const survey = await surveyDatabases(session, settings);
    const git = trustedGitView(survey.git);
    const victims = prunable(survey, session);
    if (git.branchesUnknown) out.note(out.c.yellow(`warning: ${git.branchesUnknown}; saved branch databases are kept whatever their branch`));
    if (victims.length === 0) {
      out.line('nothing to prune: every database dbguard keeps here belongs to a worktree and branch that exist');
      return { exitCode: ExitCode.ok, json: { dryRun: options.dryRun ?? false, prunable: [], dropped: [], inUse: [] } };
    }
    out.line(`${plural(victims.length, 'database')} of removed worktrees or deleted branches (${sizeOf(victims)}):`);
    const { snapshotsOf } = await import('../engine/kept-databases.js');
    const snapshots = await snapshotsOf(session, victims.map((d) => d.name));
    for (const d of victims) {
      const busy = d.sessions > 0 ? out.c.yellow(`  ${plural(d.sessions, 'session')} connected: kept`) : '';
      const copies = snapshots.get(d.name)?.length ?? 0;
      out.line(`  ${d.name}  ${formatBytes(d.bytes)}  ${goneWords(d)} (${d.kind === 'branch' ? `branch ${d.branch ?? '?'} in ` : ''}${d.worktree ?? '?'})${copies > 0 ? `, and its ${plural(copies, 'snapshot')}` : ''}${busy}`);
    }
    if (options.dryRun) {
      out.line(out.c.dim('dry run: nothing was dropped. Drop them with: dbguard db prune'));
      return { exitCode: ExitCode.ok, json: { dryRun: true, prunable: victims.map(entryJson), dropped: [], inUse: victims.filter((d) => d.sessions > 0).map(entryJson) } };
    }
    const droppable = victims.filter((d) => d.sessions === 0);
    if (!options.yes && droppable.length > 0 && !(await confirmYes(`Drop ${plural(droppable.length, 'database')} (${sizeOf(droppable)})? They cannot be brought back.`))) {
      throw new DbguardError('ABORTED', 'prune cancelled; nothing was dropped', { hint: 'dbguard db prune --dry-run   (to see what it would drop)' });
    }
    const outcome = await pruneDatabases(session, victims);
    if (outcome.dropped.length > 0) out.line(`dropped ${plural(outcome.dropped.length, 'database')} (${sizeOf(outcome.dropped)} freed): ${outcome.dropped.map((d) => d.name).join(', ')}${outcome.snapshots.length > 0 ? `, and their ${plural(outcome.snapshots.length, 'snapshot')}` : ''}`);
    for (const d of outcome.inUse) out.note(out.c.yellow(`kept ${d.name}: a session is connected to it (end it, then dbguard db prune)`));
    for (const d of outcome.changed) out.note(out.c.yellow(`kept ${d.name}: it changed since it was listed (dbguard db list)`));
    for (const f of outcome.failed) out.note(out.c.red(`could not drop ${f.entry.name}: ${f.message}`));
    const exitCode = outcome.failed.length > 0 ? ExitCode.failure : outcome.inUse.length + outcome.changed.length > 0 ? ExitCode.actionNeeded : ExitCode.ok;
    return {
      exitCode,
      json: {
        dryRun: false, prunable: victims.map(entryJson), dropped: outcome.dropped.map(entryJson), inUse: outcome.inUse.map(entryJson),
        changed: outcome.changed.map(entryJson), snapshotsDropped: outcome.snapshots, failed: outcome.failed.map((f) => ({ name: f.entry.name, message: f.message })),
      },
    };
  });
}
