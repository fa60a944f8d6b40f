/**
 * `dbguard snapshot save [name] | list | restore <name> | drop <name>` and `dbguard undo` (DESIGN §12).
 * A restore needs no confirmation: the state it replaces is kept as a snapshot of its own.
 */
import { DbguardError, ExitCode } from '../core/errors.js';
import type { Snapshot } from '../core/snapshot.js';
import { formatAge, formatBytes } from '../core/text.js';
import { dropSnapshot, listSnapshots, restoreSnapshot, saveSnapshot, undoLast, type RestoreResult } from '../engine/snapshot.js';
import { withSession } from '../engine/session.js';
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

export async function snapshotCommand(ctx: CommandContext, action: string, name: string | undefined): Promise<CommandResult> {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new DbguardError('USAGE', `unknown snapshot action "${action}" (expected ${ACTIONS.join(', ')})`, { hint: 'dbguard snapshot list' });
  }
  if ((action === 'restore' || action === 'drop') && !name) {
    throw new DbguardError('USAGE', `dbguard snapshot ${action} needs the snapshot's name`, { hint: 'dbguard snapshot list   (to see the names)' });
  }
  const settings = settingsFor(ctx);
  const { out } = ctx;
  const destructive = action !== 'list';
  return withSession(settings, { destructive, report: out.progress() }, async (session) => {
    if (action === 'save') {
      const snapshot = await saveSnapshot(session, settings, { reason: 'manual', ...(name === undefined ? {} : { name }) });
      out.line(`saved snapshot ${snapshot.name} of "${snapshot.of}" at version ${snapshot.version ?? 'none'} (${formatBytes(snapshot.bytes)}, ${snapshot.strategy === 'template' ? 'a copy database on the server' : 'a pg_dump file'})`);
      out.line(`restore it with: dbguard snapshot restore ${snapshot.name}`);
      return { exitCode: ExitCode.ok, json: { snapshot: snapshotJson(snapshot) } };
    }
    if (action === 'restore') return restoredLines(ctx, await restoreSnapshot(session, settings, name as string));
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

export async function undoCommand(ctx: CommandContext): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  return withSession(settings, { destructive: true, report: ctx.out.progress() }, async (session) => restoredLines(ctx, await undoLast(session, settings)));
}
