/** `dbguard db list`: every database dbguard keeps on the project's server, what it belongs to, and the total. */
import { ExitCode } from '../core/errors.js';
import { formatAge, formatBytes } from '../core/text.js';
import type { DatabaseEntry, DatabaseSurvey } from '../engine/kept-databases.js';
import { embeddedNotCreated, withSession } from '../engine/session.js';
import type { Output } from '../ui/output.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

export const entryJson = (d: DatabaseEntry) => ({
  name: d.name, kind: d.kind, worktree: d.worktree, branch: d.branch, source: d.source, createdAt: d.createdAt, bytes: d.bytes, sessions: d.sessions,
  lastUsedAt: d.lastUsedAt, worktreeExists: d.worktreeExists, worktreeUnlisted: d.unlisted, branchExists: d.branchExists, gone: d.gone,
});

/** What the database belongs to and whether that still exists, in words. */
function belongsTo(d: DatabaseEntry): string {
  const where = d.worktree ?? '?';
  if (d.kind === 'main') return `${where}${d.branch ? ` on ${d.branch}` : ''} (main worktree)`;
  const state = d.worktreeExists === false ? ' (removed)' : d.unlisted ? ' (not listed by git: git worktree repair)' : '';
  if (d.kind === 'worktree') return `${where}${state}${d.branch ? ` on ${d.branch}` : ''}`;
  return `branch ${d.branch ?? '?'}${d.branchExists === false ? ' (deleted)' : ''}, saved in ${where}${state}`;
}

export function goneWords(d: DatabaseEntry): string {
  return d.gone === 'branch-deleted' ? 'its branch was deleted' : 'its worktree was removed';
}

export function printSurvey(out: Output, survey: DatabaseSurvey, now: Date): void {
  for (const d of survey.databases) {
    const sessions = `${d.sessions} session${d.sessions === 1 ? '' : 's'}`;
    const used = d.sessions > 0 ? 'in use now' : d.lastUsedAt === null ? 'last use unknown' : `last written ${formatAge(d.lastUsedAt, now)}`;
    const mark = d.gone === null ? '' : out.c.yellow(`  removable: ${goneWords(d)}`);
    out.line(`${d.kind.padEnd(8)} ${d.name.padEnd(40)} ${formatBytes(d.bytes).padStart(8)}  ${sessions.padEnd(11)} ${used}`);
    out.line(`${' '.repeat(9)}${out.c.dim(belongsTo(d))}${mark}`);
  }
  if (survey.snapshots.count > 0) {
    out.line(`snapshots of these databases: ${survey.snapshots.count}, ${formatBytes(survey.snapshots.bytes)}   (dbguard snapshot list, in each worktree)`);
  }
  const gone = survey.databases.filter((d) => d.gone !== null);
  const goneBytes = gone.reduce((sum, d) => sum + (d.bytes ?? 0), 0);
  out.line(`total ${formatBytes(survey.totalBytes)}${gone.length > 0 ? `; ${gone.length} removable (${formatBytes(goneBytes)}): dbguard db prune --dry-run` : ''}`);
  if (!survey.git.listed) out.note(out.c.yellow(`warning: ${survey.git.reason}; no database is shown as removable until git can list the worktrees`));
  else if (survey.git.branchesUnknown) out.note(out.c.yellow(`warning: ${survey.git.branchesUnknown}; no saved branch database is shown as removable for its branch`));
}

export const gitJson = (survey: DatabaseSurvey) => (survey.git.listed
  ? { listed: true, branchesListed: survey.git.branchesUnknown === null, problem: survey.git.branchesUnknown }
  : { listed: false, branchesListed: false, problem: survey.git.reason });

export async function dbListCommand(ctx: CommandContext): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const { out } = ctx;
  if (embeddedNotCreated(settings)) {
    out.line('no databases yet: the embedded database has not been created yet');
    return { exitCode: ExitCode.ok, json: { databases: [], snapshots: { count: 0, bytes: 0 }, totalBytes: 0, databaseCreated: false } };
  }
  const { surveyDatabases } = await import('../engine/kept-databases.js');
  const survey = await withSession(settings, { destructive: false, report: out.progress() }, (session) => surveyDatabases(session, settings));
  printSurvey(out, survey, new Date());
  return {
    exitCode: ExitCode.ok,
    json: { main: survey.main, git: gitJson(survey), databases: survey.databases.map(entryJson), snapshots: survey.snapshots, totalBytes: survey.totalBytes },
  };
}
