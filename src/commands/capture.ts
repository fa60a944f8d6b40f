/** `dbguard capture`: store down SQL for applied migrations (after your own migrator ran) and refresh the cache. */
import { ExitCode } from '../core/errors.js';
import { captureAppliedMigrations } from '../engine/capture.js';
import { acceptSchema } from '../engine/schema-check.js';
import { withSession } from '../engine/session.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import { listVersions } from '../core/text.js';
import { formatOf } from '../formats/index.js';
import { describeWithoutDown, withoutDownJson } from './plan-view.js';

export async function captureCommand(ctx: CommandContext, options: { acceptEdits?: boolean } = {}): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const dir = absoluteMigrationsDir(settings);
  const disk = readDiskState(dir, formatOf(settings));
  // capture writes _dbguard: a non-local host needs allowRemote, like any other change (§6).
  const result = await withSession(settings, { destructive: true, report: ctx.out.progress() }, async (session) => {
    const captured = await captureAppliedMigrations(session, dir, disk, [], { acceptEdits: options.acceptEdits ?? false });
    // Capture accepts the database as it is: its schema becomes the record for its version (§11).
    await acceptSchema(session.client, session.format, captured.current?.version ?? null);
    return captured;
  });
  const { out } = ctx;
  // Counts count what they say (§18): a migration recorded without down SQL to run is not "captured".
  const without = result.recorded - result.captured.length;
  out.line(`recorded ${result.recorded} migration${result.recorded === 1 ? '' : 's'}${without > 0 ? `, ${without} without down SQL` : ''}; cache lists ${result.cache.migrations.size} applied (database at ${result.current?.version ?? 'nothing applied'})`);
  for (const e of result.acceptedEdits) out.line(`accepted the edit of ${e.filename}: the database is taken to match it, and its down SQL is the edited file's`);
  for (const r of result.restored) out.line(`stash: ${r.message}`);
  if (result.pruned.length) out.line(`removed tracking rows above the database's version: ${listVersions(result.pruned)}`);
  for (const line of describeWithoutDown(result.withoutDownSql)) out.note(out.c.yellow(`warning: ${line}`));
  for (const e of result.editedNotRecorded) {
    out.note(out.c.yellow(`warning: ${e.filename} was edited since applied: its down SQL was not recorded from the edited file (dbguard capture --accept-edits records it, if the database already matches the edited file)`));
  }
  return {
    exitCode: ExitCode.ok,
    json: { databaseVersion: result.current?.version ?? null, captured: result.captured, pruned: result.pruned, withoutDownSql: result.withoutDownSql.map(withoutDownJson), cached: result.cache.migrations.size, restored: result.restored,
      editedNotRecorded: result.editedNotRecorded, acceptedEdits: result.acceptedEdits },
  };
}
