/** `dbguard migrate [--dry-run]`: apply pending up migrations, golang-migrate compatible. */
import { DbguardError, ExitCode } from '../core/errors.js';
import { formatOf } from '../formats/index.js';
import type { MigrationFormat } from '../core/format.js';
import { migratePending, notRunnableError, readAllAsPending, type FirstMigrate } from '../engine/migrate.js';
import { embeddedNotCreated, withSession } from '../engine/session.js';
import type { Settings } from '../core/settings.js';
import { parseVersionArgument } from '../core/catalog.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import { listVersions } from '../core/text.js';
import { describeDropped, describeKept, describeWithoutDown, keptJson, snapshotSkippedLine, withoutDownJson } from './plan-view.js';
import { reapplyMigration } from '../engine/reapply.js';

export interface MigrateCommandOptions {
  readonly dryRun?: boolean;
  readonly strict?: boolean;
  readonly replay?: boolean;
  /** The version text given to --reapply. */
  readonly reapply?: string | undefined;
  readonly snapshot?: boolean;
  readonly disconnect?: boolean;
}

export async function migrateCommand(ctx: CommandContext, options: MigrateCommandOptions): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const { out } = ctx;
  if (options.reapply !== undefined) return reapplyCommand(ctx, settings, options);
  if (embeddedNotCreated(settings)) {
    // Validated before the cluster is created: bad input changes nothing.
    const first = readAllAsPending(settings);
    if (options.dryRun) return dryRunWithoutDatabase(ctx, formatOf(settings), first);
  }
  // A dry run only reads, so it neither waits for nor blocks a running change (no lock).
  const result = await withSession(settings, { destructive: !options.dryRun, create: !options.dryRun, report: out.progress() }, (session) =>
    migratePending(session, settings, out.progress(), { dryRun: options.dryRun ?? false, strict: options.strict ?? false, replay: options.replay ?? false, noSnapshot: options.snapshot === false, disconnect: options.disconnect ?? false }));
  if (result.snapshot) out.line(`snapshot ${result.snapshot.name} taken first (undo: dbguard undo)`);
  if (result.snapshotSkipped) out.note(out.c.yellow(snapshotSkippedLine(result.snapshotSkipped, '--disconnect')));
  if (result.rewound?.length) out.line(`${options.dryRun ? 'would roll back' : 'rolled back'} ${listVersions(result.rewound)} first (--replay), then ${options.dryRun ? 'apply' : 'applied'} in version order`);
  if (result.pending.length === 0) {
    if (!result.stoppedAt) out.line('nothing to migrate: the database is up to date');
  }
  else if (options.dryRun) {
    out.line(`would apply ${result.pending.length} migration${result.pending.length === 1 ? '' : 's'}:`);
    for (const m of result.pending) out.line(`  ${m.version}  ${m.filename}${m.recordAs === undefined ? '' : out.c.yellow('  (out of order: below the applied top)')}`);
  } else {
    const top = result.pending.at(-1)?.recordAs ?? result.applied.at(-1)?.version;
    out.line(`applied ${result.applied.length} migration${result.applied.length === 1 ? '' : 's'}${result.outOfOrder.length ? ` (${result.outOfOrder.length} out of order)` : ''}; database at ${top}`);
  }
  if (result.uncaptured?.length) {
    out.line(`${options.dryRun ? 'would capture' : 'captured'} the down SQL of ${listVersions(result.uncaptured)} (applied without dbguard seeing it)`);
  }
  for (const r of result.restored ?? []) out.line(`stash: ${r.message}`);
  if (result.schema?.state === 'drift') out.note(out.c.yellow(`warning: ${result.schema.message}`));
  for (const line of describeWithoutDown(result.withoutDownSql)) out.note(out.c.yellow(`warning: ${line}`));
  // What was applied is said above; the stop is a refusal (exit 3) naming what runs the migration (§18).
  if (result.stoppedAt) throw notRunnableError(formatOf(settings), result.stoppedAt, options.dryRun ? result.pending.length : result.applied.length, result.reached ?? null, options.dryRun ?? false);
  return {
    exitCode: ExitCode.ok,
    json: { uncaptured: result.uncaptured ?? [], restored: result.restored ?? [], rewound: result.rewound ?? [], snapshot: result.snapshot?.name ?? null, schema: result.schema ? { state: result.schema.state, message: result.schema.message, diff: result.schema.diff ?? null } : null, dryRun: options.dryRun ?? false, withoutDownSql: result.withoutDownSql.map(withoutDownJson), outOfOrder: result.outOfOrder, pending: result.pending.map((m) => ({ version: m.version, filename: m.filename, outOfOrder: m.recordAs !== undefined })), applied: result.applied.map((a) => ({ version: a.version, filename: a.filename, ms: Math.round(a.ms * 100) / 100 })) },
  };
}

/** No embedded cluster yet: every migration on disk is pending, and the dry run must not create one. */
function dryRunWithoutDatabase(ctx: CommandContext, format: MigrationFormat, { pending, stop }: FirstMigrate): CommandResult {
  const { out } = ctx;
  if (pending.length === 0) {
    if (!stop) out.line('nothing to migrate: no migrations on disk (and no embedded database yet)');
  } else out.line(`would apply ${pending.length} migration${pending.length === 1 ? '' : 's'} (the embedded database is created first):`);
  for (const m of pending) out.line(`  ${m.version}  ${m.filename}`);
  if (stop) throw notRunnableError(format, stop, pending.length, null, true);
  return {
    exitCode: ExitCode.ok,
    json: { dryRun: true, databaseCreated: false, pending: pending.map((m) => ({ version: m.version, filename: m.filename, outOfOrder: false })), applied: [], outOfOrder: [], withoutDownSql: pending.filter((m) => m.downSql === null).map((m) => m.version) },
  };
}

/** `migrate --reapply <version>`: an edited applied migration rolled back with its stored down SQL and applied again. */
async function reapplyCommand(ctx: CommandContext, settings: Settings, options: MigrateCommandOptions): Promise<CommandResult> {
  if (options.replay || options.strict) {
    throw new DbguardError('USAGE', `--reapply cannot be combined with ${options.replay ? '--replay' : '--strict'}`, { hint: 'dbguard migrate --reapply <version> --dry-run' });
  }
  const version = parseVersionArgument(String(options.reapply), 'dbguard migrate --reapply <version>   (an applied migration, e.g. one edited since)');
  const { out } = ctx;
  const dryRun = options.dryRun ?? false;
  const result = await withSession(settings, { destructive: !dryRun, report: out.progress() }, (session) =>
    reapplyMigration(session, settings, version, { dryRun, noSnapshot: options.snapshot === false, disconnect: options.disconnect ?? false }));
  const { plan } = result;
  const downs = plan.steps.filter((s) => s.kind !== 'replay-up');
  const ups = plan.steps.filter((s) => s.kind === 'replay-up');
  const named = (versions: readonly bigint[]) => versions.map((v) => (plan.edited.includes(v) ? `${v} (edited since applied)` : String(v))).join(', ');
  if (result.snapshot) out.line(`snapshot ${result.snapshot.name} taken first (undo: dbguard undo)`);
  if (result.snapshotSkipped) out.note(out.c.yellow(snapshotSkippedLine(result.snapshotSkipped, '--disconnect')));
  if (dryRun) {
    out.line(`would roll back ${listVersions(downs.map((s) => s.version))} with the down SQL stored when they were applied, then apply ${named(ups.map((s) => s.version))} from the files`);
    for (const step of plan.steps) {
      out.line(`  ${step.kind === 'replay-up' ? 'up  ' : 'down'}  ${step.version}  ${step.filename}`);
      const found = step.kind === 'replay-up' ? undefined : result.drops?.get(step.version);
      if (found && 'error' in found) out.line(`        ${out.c.yellow('rows it would drop: not counted (its down cannot run in the counting transaction)')}`);
      else if (found && found.length > 0) out.line(`        ${out.c.yellow(`drops ${describeDropped(found)}`)}${out.c.dim(' (kept in the stash; its up puts them back)')}`);
      for (const e of step.kind === 'replay-up' ? result.triedAgain?.get(step.version) ?? [] : []) out.line(`        and tries stash ${e.id} again (${describeKept([e])}, kept before)`);
    }
  } else {
    out.line(`re-applied ${named(ups.map((s) => s.version))}; database at ${plan.top}`);
    for (const r of result.restored ?? []) out.line(`stash: ${r.message}`);
    const left = (result.kept ?? []).filter((k) => !(result.restored ?? []).some((r) => r.id === k.id));
    if (left.length > 0) out.line(`kept ${describeKept(left)} in the stash (dbguard stash list)`);
  }
  if (plan.edited.length === 0) out.note(out.c.dim(`(${version} is as it was applied: applied again all the same)`));
  if (result.schema?.state === 'drift') out.note(out.c.yellow(`warning: ${result.schema.message}`));
  return {
    exitCode: ExitCode.ok,
    json: {
      dryRun,
      reapply: {
        version: plan.version, edited: plan.edited, databaseVersion: plan.top,
        steps: plan.steps.map((s) => ({
          kind: s.kind === 'replay-up' ? 'up' : 'down', version: s.version, filename: s.filename, sql: s.sql,
          ...(result.drops && s.kind !== 'replay-up' ? { wouldDrop: result.drops.get(s.version) ?? [] } : {}),
          ...(result.triedAgain && s.kind === 'replay-up' ? { stashTriedAgain: (result.triedAgain.get(s.version) ?? []).map(keptJson) } : {}),
        })),
      },
      snapshot: result.snapshot?.name ?? null, restored: result.restored ?? [], kept: (result.kept ?? []).map(keptJson),
      schema: result.schema ? { state: result.schema.state, message: result.schema.message, diff: result.schema.diff ?? null } : null,
    },
  };
}
