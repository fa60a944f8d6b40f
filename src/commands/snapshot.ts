/**
 * `dbguard snapshot save [name] | list | restore <name> | drop <name>` and `dbguard undo` (DESIGN §12).
 * A restore needs no confirmation: the state it replaces is kept as a snapshot of its own.
 */
import { DbguardError, ExitCode, isDbguardError } from '../core/errors.js';
import { confirmYes } from '../ui/prompt.js';
import type { Snapshot } from '../core/snapshot.js';
import { formatAge, formatBytes } from '../core/text.js';
import { dropSnapshot, listSnapshots, restoreSnapshot, saveSnapshot, undoLast, type RestoreResult } from '../engine/snapshot.js';
import { embeddedNotCreated, notCreatedError, withSession } from '../engine/session.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

const ACTIONS = ['save', 'list', 'restore', 'drop'] as const;

const snapshotJson = (s: Snapshot) => ({ name: s.name, of: s.of, reason: s.reason, auto: s.auto, version: s.version, createdAt: s.createdAt, strategy: s.strategy, bytes: s.bytes });

function restoredLines(ctx: CommandContext, result: RestoreResult): CommandResult {
  const { restored, replaced } = result;
  ctx.out.line(`restored snapshot ${restored.name} (${restored.reason}, ${formatAge(restored.createdAt, new Date())}); database at ${restored.version ?? 'nothing applied'}`);
  if (replaced) ctx.out.line(`the state it replaced is kept as snapshot ${replaced.name}   (dbguard snapshot restore ${replaced.name} brings it back)`);
  ctx.out.line('next: dbguard status');
  return { exitCode: ExitCode.ok, json: { restored: snapshotJson({ ...restored }), replaced: replaced?.name ?? null, databaseVersion: restored.version } };
}

export async function snapshotCommand(ctx: CommandContext, action: string, name: string | undefined, options: { disconnect?: boolean } = {}): Promise<CommandResult> {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new DbguardError('USAGE', `unknown snapshot action "${action}" (expected ${ACTIONS.join(', ')})`, { hint: 'dbguard snapshot list' });
  }
  if ((action === 'restore' || action === 'drop') && !name) {
    throw new DbguardError('USAGE', `dbguard snapshot ${action} needs the snapshot's name`, { hint: 'dbguard snapshot list   (to see the names)' });
  }
  const settings = settingsFor(ctx);
  const { out } = ctx;
  const destructive = action !== 'list';
  if (embeddedNotCreated(settings)) {
    if (destructive) throw notCreatedError();
    out.line('no snapshots yet: the embedded database has not been created yet');
    return { exitCode: ExitCode.ok, json: { database: null, snapshots: [], databaseCreated: false } };
  }
  return withSession(settings, { destructive, report: out.progress() }, async (session) => {
    if (action === 'save') {
      const snapshot = await saveSnapshot(session, settings, { reason: 'manual', disconnect: options.disconnect ?? false, ...(name === undefined ? {} : { name }) });
      out.line(`saved snapshot ${snapshot.name} of "${snapshot.of}" at version ${snapshot.version ?? 'none'} (${formatBytes(snapshot.bytes)}, ${snapshot.strategy === 'template' ? 'a copy database on the server' : 'a pg_dump file'})`);
      out.line(`restore it with: dbguard snapshot restore ${snapshot.name}`);
      return { exitCode: ExitCode.ok, json: { snapshot: snapshotJson(snapshot) } };
    }
    if (action === 'restore') return restoredLines(ctx, await askingToDisconnect(ctx, options, (disconnect) => restoreSnapshot(session, settings, name as string, { disconnect })));
    if (action === 'drop') {
      const dropped = await dropSnapshot(session, name as string);
      out.line(`dropped snapshot ${dropped.name} (${formatBytes(dropped.bytes)} freed)`);
      return { exitCode: ExitCode.ok, json: { dropped: snapshotJson(dropped) } };
    }
    const snapshots = await listSnapshots(session);
    const now = new Date();
    if (snapshots.length === 0) out.line(`no snapshots of "${session.target.database}" yet (one is taken before every rollback, reset and replay)`);
    for (const s of snapshots) {
      out.line(`${s.name.padEnd(32)} ${(s.version ?? 'none').padEnd(16)} ${formatBytes(s.bytes).padStart(8)}  ${formatAge(s.createdAt, now).padEnd(12)} ${s.auto ? `auto (${s.reason})` : 'saved'}`);
    }
    if (snapshots.length > 0) out.line(out.c.dim(`automatic snapshots kept: the last ${settings.snapshots.keep}; saved ones stay until dropped`));
    return { exitCode: ExitCode.ok, json: { database: session.target.database, snapshots: snapshots.map(snapshotJson) } };
  });
}

export async function undoCommand(ctx: CommandContext, options: { disconnect?: boolean } = {}): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  return withSession(settings, { destructive: true, report: ctx.out.progress() }, async (session) =>
    restoredLines(ctx, await askingToDisconnect(ctx, options, (disconnect) => undoLast(session, settings, { disconnect }))));
}

/**
 * §14: a restore replaces the database, so an app connected to it is asked about first: on a terminal
 * the person says whether to end its sessions; elsewhere --disconnect (or the refusal) decides.
 */
async function askingToDisconnect<T>(ctx: CommandContext, options: { disconnect?: boolean }, restore: (disconnect: boolean) => Promise<T>): Promise<T> {
  try {
    return await restore(options.disconnect ?? false);
  } catch (error) {
    const sessions = isDbguardError(error) && error.code === 'SNAPSHOT_UNAVAILABLE' ? (error.details as { otherSessions?: string[] } | undefined)?.otherSessions : undefined;
    if (!sessions?.length || options.disconnect || !ctx.canPrompt) throw error;
    if (!(await confirmYes(`End ${sessions.length} other session${sessions.length === 1 ? '' : 's'} of the database (${sessions.join(', ')}) to restore it?`))) {
      throw new DbguardError('ABORTED', 'restore cancelled; nothing was changed', { hint: 'dbguard undo --disconnect   (ends those sessions), or stop your app first' });
    }
    return restore(true);
  }
}
