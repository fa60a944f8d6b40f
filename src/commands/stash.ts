/** `dbguard stash list | drop <id|all> | restore <id|all> [--dry-run]`: the rows rollbacks kept (DESIGN §13). */
import { DbguardError, ExitCode } from '../core/errors.js';
import { qualifiedName, type StashEntry } from '../core/stash.js';
import { formatAge, formatBytes } from '../core/text.js';
import { dropStashEntries, listStash, restoreChosenEntries } from '../db/stash-restore.js';
import { inTransaction, type PgClient } from '../db/client.js';
import type { StashRestore } from '../core/stash.js';
import { embeddedNotCreated, notCreatedError, withSession } from '../engine/session.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

const entryJson = (e: StashEntry) => ({
  id: e.id, version: e.version.toString(), upSha256: e.upSha256, kind: e.kind, object: qualifiedName(e.schema, e.table, e.column), keyColumns: e.keyColumns,
  rows: e.rows, bytes: e.bytes, createdAt: e.createdAt, note: e.note,
});

/**
 * Puts back what fits now, in one transaction (rolled back for --dry-run, so its report is exactly
 * what would happen). Additive: a row under the same key in the table is kept and the stashed one
 * stays, so nothing of the database is dropped or overwritten and no snapshot is needed.
 */
const restoreNow = (client: PgClient, ids: readonly number[], dryRun: boolean): Promise<StashRestore[]> =>
  inTransaction(client, () => restoreChosenEntries(client, ids, dryRun), dryRun ? 'ROLLBACK' : 'COMMIT');

export async function stashCommand(ctx: CommandContext, action: string, id: string | undefined, options: { dryRun?: boolean } = {}): Promise<CommandResult> {
  if (action !== 'list' && action !== 'drop' && action !== 'restore') throw new DbguardError('USAGE', `unknown stash action "${action}" (expected list, drop or restore)`, { hint: 'dbguard stash list' });
  if (action !== 'list' && (id === undefined || !(id === 'all' || /^\d+$/.test(id)))) {
    throw new DbguardError('USAGE', `dbguard stash ${action} needs an id from dbguard stash list, or "all"${id === undefined ? '' : ` (got "${id}")`}`, { hint: 'dbguard stash list' });
  }
  if (options.dryRun && action !== 'restore') throw new DbguardError('USAGE', `--dry-run is for dbguard stash restore (stash ${action} ${action === 'list' ? 'changes nothing anyway' : 'has no dry run'})`, { hint: 'dbguard stash list' });
  const settings = settingsFor(ctx);
  const { out } = ctx;
  if (embeddedNotCreated(settings)) {
    if (action !== 'list') throw notCreatedError();
    out.line('the stash is empty: the embedded database has not been created yet');
    return { exitCode: ExitCode.ok, json: { entries: [], bytes: 0, maxBytes: settings.stash.maxBytes, databaseCreated: false } };
  }
  return withSession(settings, { destructive: action === 'drop' || (action === 'restore' && !options.dryRun), report: out.progress() }, async (session) => {
    const entries = await listStash(session.client);
    if (action === 'restore') {
      const chosen = id === 'all' ? entries : entries.filter((e) => e.id === Number(id));
      if (chosen.length === 0 && id !== 'all') throw new DbguardError('STASH_NOT_FOUND', `no stash entry ${id}; nothing was restored`, { hint: 'dbguard stash list' });
      const restored = await restoreNow(session.client, chosen.map((e) => e.id), options.dryRun === true);
      const prefix = options.dryRun ? 'would put back: ' : '';
      for (const r of restored) out.line(`${prefix}${r.message}`);
      if (restored.length === 0) out.line('the stash is empty: nothing to restore');
      const left = restored.filter((r) => r.left > 0);
      if (options.dryRun) out.line(out.c.dim('dry run: nothing was changed; dbguard stash restore ' + id + ' does it'));
      else if (left.length > 0) out.line(out.c.yellow(`${left.length} entr${left.length === 1 ? 'y keeps' : 'ies keep'} what did not fit (dbguard stash list); fix what the messages name, then dbguard stash restore ${id} again`));
      return {
        exitCode: left.length > 0 ? ExitCode.actionNeeded : ExitCode.ok,
        json: { dryRun: options.dryRun === true, restored: restored.map((r) => ({ id: r.id, object: r.object, restored: r.restored, left: r.left, message: r.message })) },
      };
    }
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
      if (e.note) out.line(out.c.yellow(`      not fully restored: ${e.note} (dbguard stash restore ${e.id} tries again)`));
    }
    const total = entries.reduce((sum, e) => sum + e.bytes, 0);
    if (entries.length > 0) out.line(out.c.dim(`${formatBytes(total)} of ${formatBytes(settings.stash.maxBytes)}; each comes back when its migration is applied again (dbguard migrate, or capture after your migrator)`));
    return { exitCode: ExitCode.ok, json: { entries: entries.map(entryJson), bytes: total, maxBytes: settings.stash.maxBytes } };
  });
}
