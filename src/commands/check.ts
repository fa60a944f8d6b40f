/** `dbguard check`: the hook's pure check (cache versus disk), no database. Exit 1 on conflict. */
import { assertCacheBelongsTo } from '../core/cache.js';
import { findPhantomMigrations } from '../core/compare.js';
import { ExitCode } from '../core/errors.js';
import { databaseRef } from '../engine/identity.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { readCacheFile } from '../fs/state.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

export async function checkCommand(ctx: CommandContext): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const ref = databaseRef(settings);
  const cache = readCacheFile(ref.paths.cacheFile);
  if (cache) assertCacheBelongsTo(cache, ref.identity);
  const result = findPhantomMigrations(cache, readDiskState(absoluteMigrationsDir(settings)));
  const { out } = ctx;
  const json = { firstRun: result.firstRun, conflicts: result.conflicts, pending: result.pending.map((m) => ({ version: m.version, filename: m.up })) };
  if (result.firstRun) {
    out.line('no migration cache yet: nothing to compare (dbguard capture creates it from the database)');
    return { exitCode: ExitCode.ok, json };
  }
  if (result.conflicts.length === 0) {
    out.line(`${out.c.green('clean')}: every applied migration is on disk${result.pending.length ? `; ${result.pending.length} pending` : ''}`);
    return { exitCode: ExitCode.ok, json };
  }
  out.line(`${out.c.yellow('conflict')}: ${result.conflicts.length} applied migration${result.conflicts.length === 1 ? ' is' : 's are'} not on this branch`);
  for (const conflict of result.conflicts) {
    const why = conflict.kind === 'renamed' ? `renamed to ${conflict.diskFilename}` : conflict.kind === 'unreadable' ? `unreadable (${conflict.error})` : 'missing';
    out.line(`  ${conflict.version}  ${conflict.filename}  ${out.c.dim(why)}`);
  }
  out.line(`next: dbguard rollback   (or dbguard status for the full picture)`);
  return { exitCode: ExitCode.actionNeeded, json };
}
