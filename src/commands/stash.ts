/**
 * `dbguard stash list | show <id> | export <id> [--table schema.name] | drop <id|all> | restore <id|all> [--dry-run]`:
 * the rows rollbacks kept (DESIGN §13), and (issue 25.7) a way to what no restore can put back.
 */
import { DbguardError, ExitCode } from '../core/errors.js';
import { byHand, comesBackByItself, parseTableName, qualifiedName, type StashEntry } from '../core/stash.js';
import { formatAge, formatBytes, formatTable } from '../core/text.js';
import { defaultExportTarget, exportKeptRows, readKeptRows } from '../db/stash-export.js';
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

/** How many rows `stash show` prints; export copies them all. */
const SHOW_ROWS = 100;

const ACTIONS = ['list', 'show', 'export', 'drop', 'restore'];

export async function stashCommand(ctx: CommandContext, action: string, id: string | undefined, options: { dryRun?: boolean; table?: string } = {}): Promise<CommandResult> {
  if (!ACTIONS.includes(action)) throw new DbguardError('USAGE', `unknown stash action "${action}" (expected list, show, export, drop or restore)`, { hint: 'dbguard stash list' });
  const one = action === 'show' || action === 'export';
  if (action !== 'list' && (id === undefined || !((id === 'all' && !one) || /^\d+$/.test(id)))) {
    throw new DbguardError('USAGE', `dbguard stash ${action} needs an id from dbguard stash list${one ? '' : ', or "all"'}${id === undefined ? '' : ` (got "${id}")`}`, { hint: 'dbguard stash list' });
  }
  if (options.dryRun && action !== 'restore') throw new DbguardError('USAGE', `--dry-run is for dbguard stash restore (stash ${action} ${action === 'list' || action === 'show' ? 'changes nothing anyway' : 'has no dry run'})`, { hint: 'dbguard stash list' });
  if (options.table !== undefined && action !== 'export') throw new DbguardError('USAGE', `--table is for dbguard stash export (the table it copies into), not stash ${action}`, { hint: 'dbguard stash export <id> --table <schema>.<name>' });
  // cac reads `--table 123` as a number and a bare `--table` as true: the check sees what was typed.
  const target = options.table === undefined ? null : parseTableName(String(options.table));
  if (options.table !== undefined && target === null) {
    throw new DbguardError('USAGE', `--table "${options.table}" is not a table name (name or schema.name, unquoted identifiers)`, { hint: `dbguard stash export ${id ?? '<id>'} --table public.kept_values` });
  }
  const settings = settingsFor(ctx);
  const { out } = ctx;
  if (embeddedNotCreated(settings)) {
    if (action !== 'list') throw notCreatedError();
    out.line('the stash is empty: the embedded database has not been created yet');
    return { exitCode: ExitCode.ok, json: { entries: [], bytes: 0, maxBytes: settings.stash.maxBytes, databaseCreated: false } };
  }
  return withSession(settings, { destructive: action === 'drop' || action === 'export' || (action === 'restore' && !options.dryRun), report: out.progress() }, async (session) => {
    const entries = await listStash(session.client);
    if (one) {
      const entry = entries.find((e) => e.id === Number(id));
      if (!entry) throw new DbguardError('STASH_NOT_FOUND', `no stash entry ${id}; nothing was ${action === 'show' ? 'shown' : 'exported'}`, { hint: 'dbguard stash list' });
      return action === 'show' ? showEntry(ctx, session.client, entry) : exportEntry(ctx, session.client, entry, target ?? defaultExportTarget(entry), entries);
    }
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
      if (!comesBackByItself(e)) out.line(out.c.yellow(`      not back by itself (there was no primary key to match its rows by): ${byHand(e.id)}`));
      else if (e.note) out.line(out.c.yellow(`      not fully restored: ${e.note} (dbguard stash restore ${e.id} tries again)`));
    }
    const total = entries.reduce((sum, e) => sum + e.bytes, 0);
    if (entries.length > 0) out.line(out.c.dim(`${formatBytes(total)} of ${formatBytes(settings.stash.maxBytes)}; each comes back when its migration is applied again (dbguard migrate, or capture after your migrator)${entries.some((e) => e.note || !comesBackByItself(e)) ? ', except as noted' : ''}`));
    return { exitCode: ExitCode.ok, json: { entries: entries.map(entryJson), bytes: total, maxBytes: settings.stash.maxBytes } };
  });
}

/** `stash show <id>`: what the entry keeps, as it was kept (text), the first SHOW_ROWS rows. */
async function showEntry(ctx: CommandContext, client: PgClient, entry: StashEntry): Promise<CommandResult> {
  const { out } = ctx;
  const kept = await readKeptRows(client, entry, SHOW_ROWS);
  out.line(`stash ${entry.id}: ${entry.kind} ${qualifiedName(entry.schema, entry.table, entry.column)}, kept when ${entry.version} was rolled back (${formatAge(entry.createdAt, new Date())}); ${kept.total} ${entry.kind === 'table' ? 'rows' : 'values'}, as text`);
  if (!comesBackByItself(entry)) out.line(out.c.yellow(`  not back by itself: there was no primary key to match their rows by, so each row's other values are kept beside it`));
  else if (entry.note) out.line(out.c.yellow(`  a restore left it: ${entry.note}`));
  if (kept.alreadyBack > 0) out.line(out.c.yellow(`  ${kept.alreadyBack} of these rows are in the table already, without some of their values: those values are what stays`));
  for (const line of formatTable(kept.columns, kept.rows)) out.line(line);
  out.line(out.c.dim(kept.total > kept.rows.length ? `(${kept.rows.length} of ${kept.total} rows shown; dbguard stash export ${entry.id} copies them all into a table)` : `(${kept.total} row${kept.total === 1 ? '' : 's'})`));
  return {
    exitCode: ExitCode.ok,
    json: { entry: entryJson(entry), columns: kept.columns, rows: kept.rows.map((r) => Object.fromEntries(kept.columns.map((c, i) => [c, r[i] ?? null]))), total: kept.total, alreadyBack: kept.alreadyBack },
  };
}

/** `stash export <id> [--table schema.name]`: every kept row into a new table; the stash entry stays until dropped. */
async function exportEntry(ctx: CommandContext, client: PgClient, entry: StashEntry, target: { schema: string; table: string }, entries: readonly StashEntry[]): Promise<CommandResult> {
  const rows = await exportKeptRows(client, entry, target, entries);
  const name = qualifiedName(target.schema, target.table);
  ctx.out.line(`copied ${rows} row${rows === 1 ? '' : 's'} of stash ${entry.id} (${entry.kind} ${qualifiedName(entry.schema, entry.table, entry.column)}) into ${name}, every value as text; the stash still holds them`);
  ctx.out.line(ctx.out.c.dim(`put them back by hand (e.g. UPDATE … FROM ${name}), then DROP TABLE ${name} and dbguard stash drop ${entry.id}`));
  return { exitCode: ExitCode.ok, json: { entry: entryJson(entry), table: name, rows } };
}
