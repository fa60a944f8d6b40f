/** `dbguard migrate [--dry-run]`: apply pending up migrations, golang-migrate compatible. */
import { ExitCode } from '../core/errors.js';
import { migratePending, readAllAsPending } from '../engine/migrate.js';
import type { UpMigration } from '../db/migrate.js';
import { embeddedNotCreated, withSession } from '../engine/session.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import { listVersions } from '../core/text.js';
import { snapshotSkippedLine } from './plan-view.js';

export async function migrateCommand(ctx: CommandContext, options: { dryRun?: boolean; strict?: boolean; replay?: boolean; snapshot?: boolean; disconnect?: boolean }): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const { out } = ctx;
  if (embeddedNotCreated(settings)) {
    // Validated before the cluster is created: bad input changes nothing.
    const pending = readAllAsPending(settings);
    if (options.dryRun) return dryRunWithoutDatabase(ctx, pending);
  }
  // A dry run only reads, so it neither waits for nor blocks a running change (no lock).
  const result = await withSession(settings, { destructive: !options.dryRun, create: !options.dryRun, report: out.progress() }, (session) =>
    migratePending(session, settings, out.progress(), { dryRun: options.dryRun ?? false, strict: options.strict ?? false, replay: options.replay ?? false, noSnapshot: options.snapshot === false, disconnect: options.disconnect ?? false }));
  if (result.snapshot) out.line(`snapshot ${result.snapshot.name} taken first (undo: dbguard undo)`);
  if (result.snapshotSkipped) out.note(out.c.yellow(snapshotSkippedLine(result.snapshotSkipped, '--disconnect')));
  if (result.rewound?.length) out.line(`${options.dryRun ? 'would roll back' : 'rolled back'} ${listVersions(result.rewound)} first (--replay), then ${options.dryRun ? 'apply' : 'applied'} in version order`);
  if (result.pending.length === 0) out.line('nothing to migrate: the database is up to date');
  else if (options.dryRun) {
    out.line(`would apply ${result.pending.length} migration${result.pending.length === 1 ? '' : 's'}:`);
    for (const m of result.pending) out.line(`  ${m.version}  ${m.filename}${m.recordAs === undefined ? '' : out.c.yellow('  (out of order: below the applied top)')}`);
  } else {
    const top = result.pending.at(-1)?.recordAs ?? result.applied.at(-1)?.version;
    out.line(`applied ${result.applied.length} migration${result.applied.length === 1 ? '' : 's'}${result.outOfOrder.length ? ` (${result.outOfOrder.length} out of order)` : ''}; database at ${top}`);
  }
  for (const r of result.restored ?? []) out.line(`stash: ${r.message}`);
  if (result.schema?.state === 'drift') out.note(out.c.yellow(`warning: ${result.schema.message}`));
  if (result.withoutDownSql.length) out.note(out.c.yellow(`warning: no down file for ${listVersions(result.withoutDownSql)}: those cannot be rolled back until one is committed`));
  return {
    exitCode: ExitCode.ok,
    json: { restored: result.restored ?? [], rewound: result.rewound ?? [], snapshot: result.snapshot?.name ?? null, schema: result.schema ? { state: result.schema.state, message: result.schema.message, diff: result.schema.diff ?? null } : null, dryRun: options.dryRun ?? false, withoutDownSql: result.withoutDownSql, outOfOrder: result.outOfOrder, pending: result.pending.map((m) => ({ version: m.version, filename: m.filename, outOfOrder: m.recordAs !== undefined })), applied: result.applied.map((a) => ({ version: a.version, filename: a.filename, ms: Math.round(a.ms * 100) / 100 })) },
  };
}

/** No embedded cluster yet: every migration on disk is pending, and the dry run must not create one. */
function dryRunWithoutDatabase(ctx: CommandContext, pending: readonly UpMigration[]): CommandResult {
  const { out } = ctx;
  if (pending.length === 0) out.line('nothing to migrate: no migrations on disk (and no embedded database yet)');
  else out.line(`would apply ${pending.length} migration${pending.length === 1 ? '' : 's'} (the embedded database is created first):`);
  for (const m of pending) out.line(`  ${m.version}  ${m.filename}`);
  return {
    exitCode: ExitCode.ok,
    json: { dryRun: true, databaseCreated: false, pending: pending.map((m) => ({ version: m.version, filename: m.filename, outOfOrder: false })), applied: [], outOfOrder: [], withoutDownSql: pending.filter((m) => m.downSql === null).map((m) => m.version) },
  };
}
