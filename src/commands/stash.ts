/** `dbguard stash list | drop <id|all>`: the rows rollbacks kept (DESIGN §13). */
import { DbguardError, ExitCode } from '../core/errors.js';
import { qualifiedName, type StashEntry } from '../core/stash.js';
import { formatAge, formatBytes } from '../core/text.js';
import { dropStashEntries, listStash } from '../db/stash-restore.js';
import { inTransaction } from '../db/client.js';
import { embeddedNotCreated, notCreatedError, withSession } from '../engine/session.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

const entryJson = (e: StashEntry) => ({
  id: e.id, version: e.version.toString(), upSha256: e.upSha256, kind: e.kind, object: qualifiedName(e.schema, e.table, e.column), keyColumns: e.keyColumns,
  rows: e.rows, bytes: e.bytes, createdAt: e.createdAt, note: e.note,
});

export async function stashCommand(ctx: CommandContext, action: string, id: string | undefined): Promise<CommandResult> {
  if (action !== 'list' && action !== 'drop') throw new DbguardError('USAGE', `unknown stash action "${action}" (expected list or drop)`, { hint: 'dbguard stash list' });
  if (action === 'drop' && (id === undefined || !(id === 'all' || /^\d+$/.test(id)))) {
    throw new DbguardError('USAGE', `dbguard stash drop needs an id from dbguard stash list, or "all"${id === undefined ? '' : ` (got "${id}")`}`, { hint: 'dbguard stash list' });
  }
  const settings = settingsFor(ctx);
  const { out } = ctx;
  if (embeddedNotCreated(settings)) {
    if (action === 'drop') throw notCreatedError();
    out.line('the stash is empty: the embedded database has not been created yet');
    return { exitCode: ExitCode.ok, json: { entries: [], bytes: 0, maxBytes: settings.stash.maxBytes, databaseCreated: false } };
  }
  return withSession(settings, { destructive: action === 'drop', report: out.progress() }, async (session) => {
    const entries = await listStash(session.client);
    if (action === 'drop') {
      const chosen = id === 'all' ? entries : entries.filter((e) => e.id === Number(id));
      if (chosen.length === 0 && id !== 'all') throw new DbguardError('STASH_NOT_FOUND', `no stash entry ${id}; nothing was dropped`, { hint: 'dbguard stash list' });
      await inTransaction(session.client, () => dropStashEntries(session.client, chosen.map((e) => e.id)));
      out.line(`dropped ${chosen.length} stash entr${chosen.length === 1 ? 'y' : 'ies'} (${formatBytes(chosen.reduce((sum, e) => sum + e.bytes, 0))}); those rows are gone`);
      return { exitCode: ExitCode.ok, json: { dropped: chosen.map(entryJson) } };
    }
    const now = new Date();
    if (entries.length === 0) out.line('the stash is empty: no rollback has dropped rows that are still kept');
    for (const e of entries) {
      out.line(`${String(e.id).padStart(4)}  ${e.version.toString().padEnd(16)} ${`${e.kind} ${qualifiedName(e.schema, e.table, e.column)}`.padEnd(40)} ${String(e.rows).padStart(9)} ${e.kind === 'table' ? 'rows  ' : 'values'} ${formatBytes(e.bytes).padStart(8)}  ${formatAge(e.createdAt, now)}`);
      if (e.note) out.line(out.c.yellow(`      not fully restored: ${e.note}`));
    }
    const total = entries.reduce((sum, e) => sum + e.bytes, 0);
    if (entries.length > 0) out.line(out.c.dim(`${formatBytes(total)} of ${formatBytes(settings.stash.maxBytes)}; each comes back when its migration is applied again (dbguard migrate, or capture after your migrator)`));
    return { exitCode: ExitCode.ok, json: { entries: entries.map(entryJson), bytes: total, maxBytes: settings.stash.maxBytes } };
  });
}
