/**
 * What a person sees of a worktree's own database (DESIGN §17): the one line when it is made (by the
 * hook at `git worktree add`, or by the first command that needs it), and status before it is made.
 */
import { relative } from 'node:path';
import { ExitCode } from '../core/errors.js';
import type { Settings, WorktreeTarget } from '../core/settings.js';
import { formatBytes, listVersions } from '../core/text.js';
import { readyWorktreeDatabase, type WorktreeDatabaseReady } from '../engine/worktree-database.js';
import { lockTimeoutMs } from '../fs/lock-file.js';
import type { Output } from '../ui/output.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import type { HookIo } from './hook-io.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** `dbguard: this worktree's database: <name> (copy of <source>, 212 MB, 0.21 s); DATABASE_URL in .dbguard/env`, and what else happened. */
export function madeLines(settings: Settings, ready: WorktreeDatabaseReady): string[] {
  const { made, worktree } = ready;
  const env = ready.envFile === null ? '' : `; ${settings.run.urlVariable} in ${relative(settings.root, ready.envFile)}`;
  if (made === null) return [`dbguard: this worktree's database: ${worktree.database} (on the server already)${env}`];
  const aside = made.keptAside === null || made.keptAside.name === made.source ? [] : [`  the database a worktree removed from this path left (${made.keptAside.branch ?? 'a detached HEAD'}) is kept as ${made.keptAside.name}: dbguard db list; dbguard db prune drops it once its branch is deleted`];
  if (made.way === 'saved') return [`dbguard: this worktree's database: ${worktree.database} (this branch's database, saved as ${made.source} by a worktree removed from this path, as it left it; ${formatBytes(made.bytes)})${env}`, ...aside];
  const what = made.snapshot ? `copy of snapshot ${made.snapshot.name} of ${made.source}, taken ${made.snapshot.createdAt}` : `copy of ${made.source}`;
  const how = [
    made.cloned ? 'files cloned' : null,
    made.way === 'disconnected' ? `its ${made.ended.length === 1 ? 'other session was' : `${made.ended.length} other sessions were`} ended for the copy, a pool reconnects` : null,
    made.way === 'snapshot' ? `${made.source} is in use, so nobody was disconnected` : null,
    ready.startedServer ? 'the server was stopped: started for it' : null,
  ].filter((part) => part !== null);
  const lines = [`dbguard: this worktree's database: ${worktree.database} (${what}, ${formatBytes(made.bytes)}, ${seconds(made.ms)}${how.length ? `; ${how.join('; ')}` : ''})${env}`];
  if (ready.rolledBack.length > 0) lines.push(`  rolled back in it: ${listVersions(ready.rolledBack)} (this branch lacks ${ready.rolledBack.length === 1 ? 'it' : 'them'}); ${made.source} is unchanged`);
  if (ready.notInStep) lines.push(`  not in step with this branch: ${ready.notInStep.message}`, `  next: ${ready.notInStep.fix}`);
  return [...lines, ...aside];
}

/** post-checkout after `git worktree add` (previous HEAD the null id): the worktree's database, in one line. */
export async function worktreeAdded(settings: Settings, io: HookIo): Promise<void> {
  const ready = await readyWorktreeDatabase(settings, { deadline: Date.now() + settings.timeouts.hookMs, lockWaitMs: Math.min(lockTimeoutMs(), settings.timeouts.hookMs) });
  if (ready !== null) for (const line of madeLines(settings, ready)) io.err(line);
}

/** Before a command that works on the database: a linked worktree's own is made first, said in one line. */
export async function readyForCommand(ctx: CommandContext): Promise<void> {
  const settings = settingsFor(ctx);
  if (settings.worktree === null) return;
  const ready = await readyWorktreeDatabase(settings, { report: ctx.out.progress() });
  if (ready !== null) for (const line of madeLines(settings, ready)) ctx.out.note(line);
}

/** `dbguard status` in a linked worktree whose database is not made yet: what it will be, and what makes it. */
export function notMadeStatus(out: Output, worktree: WorktreeTarget, json: Record<string, unknown>): CommandResult {
  const next = `dbguard migrate   (copies ${worktree.source} into ${worktree.database}, brings it in step with this branch, applies what is pending)`;
  out.line(`  worktree     its own database ${worktree.database}: not made yet (a copy of ${worktree.source}, the main worktree's database)`);
  out.line(`  next         ${next}`);
  return { exitCode: ExitCode.actionNeeded, json: { ...json, worktree: { database: worktree.database, source: worktree.source, made: false }, plan: null, next } };
}
