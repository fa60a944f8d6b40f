/** `dbguard status`: one screen with the database, the cache, the phantoms, the plan and the next command. */
import { isDbguardError, ExitCode } from '../core/errors.js';
import { findPhantomMigrations } from '../core/compare.js';
import { assertCacheBelongsTo, uncapturedVersions, type MigrationCache } from '../core/cache.js';
import { formatConnectionUrl } from '../core/connection.js';
import { EmbeddedServer } from '../embedded/server.js';
import { databaseRef } from '../engine/identity.js';
import { buildRollbackPlan } from '../engine/rollback.js';
import { withSession } from '../engine/session.js';
import { absoluteMigrationsDir, absoluteStateDir } from '../fs/config.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { readCacheFile } from '../fs/state.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import { nextCommand, ORIGIN_LABEL, planJson, printPlan } from './plan-view.js';
import { listVersions } from '../core/text.js';

export async function statusCommand(ctx: CommandContext, options: { offline?: boolean }): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const ref = databaseRef(settings);
  const { out } = ctx;
  const { c } = out;
  const disk = readDiskState(absoluteMigrationsDir(settings));

  let cache: MigrationCache | null;
  let cacheProblem: { code: string; message: string } | null = null;
  try {
    cache = readCacheFile(ref.paths.cacheFile);
    if (cache) assertCacheBelongsTo(cache, ref.identity);
  } catch (error) {
    if (!isDbguardError(error)) throw error;
    cacheProblem = { code: error.code, message: error.message };
    cache = null;
  }
  const comparison = findPhantomMigrations(cache, disk);

  let server: { kind: string; running: boolean | null; where: string };
  if (ref.kind === 'embedded' && settings.database.kind === 'embedded') {
    const embedded = new EmbeddedServer({ stateDir: absoluteStateDir(settings), port: settings.database.port, database: settings.database.database });
    const running = embedded.isInitialised() ? embedded.running() : null;
    server = { kind: 'embedded', running: running !== null, where: running ? `127.0.0.1:${running.port}/${settings.database.database}` : embedded.isInitialised() ? 'stopped' : 'not created yet' };
  } else {
    server = { kind: 'external', running: null, where: formatConnectionUrl(ref.target!) };
  }

  out.line(c.bold(`dbguard status  ${c.dim(settings.root)}`));
  out.line(`  database     ${server.kind}, ${server.where}`);
  const cacheLine = cacheProblem
    ? c.red(`${cacheProblem.code}: ${cacheProblem.message}`)
    : cache === null ? 'none yet (first run)' : `${cache.migrations.size} applied${uncapturedVersions(cache).length ? c.yellow(`, ${uncapturedVersions(cache).length} without down SQL`) : ', all down SQL captured'}`;
  out.line(`  cache        ${cacheLine}`);
  out.line(`  migrations   ${settings.migrationsDir}/  ${disk.catalog.migrations.length} on disk, ${comparison.pending.length} pending`);

  const json: Record<string, unknown> = {
    root: settings.root, database: server, cache: cacheProblem ?? (cache === null ? null : { applied: cache.migrations.size, withoutDownSql: uncapturedVersions(cache) }),
    migrationsDir: settings.migrationsDir, onDisk: disk.catalog.migrations.length,
    conflicts: comparison.conflicts, pending: comparison.pending.map((m) => ({ version: m.version, filename: m.up })),
  };
  if (options.offline) {
    out.line(`  phantoms     ${comparison.conflicts.length ? listVersions(comparison.conflicts.map((x) => x.version)) : 'none (by the cache)'}`);
    out.line(`  next         ${comparison.conflicts.length ? 'dbguard status   (without --offline, for the plan)' : 'nothing to do'}`);
    return { exitCode: comparison.conflicts.length || cacheProblem ? ExitCode.actionNeeded : ExitCode.ok, json: { ...json, plan: null, next: null } };
  }

  const planned = await withSession(settings, { destructive: false }, (session) => buildRollbackPlan(session, settings));
  const { plan, state, candidates, downSql } = planned;
  const current = state.current;
  out.line(`  version      ${current === null ? 'nothing applied' : `${current.version}${current.dirty ? c.red(' (dirty)') : c.dim(' (clean)')}`}`);
  if (candidates.length === 0) out.line('  phantoms     none');
  else {
    out.line(`  phantoms     ${candidates.length} applied migration${candidates.length === 1 ? '' : 's'} not on this branch:`);
    for (const cand of candidates) {
      const found = downSql.get(cand.version);
      out.line(`    ${cand.version}  ${cand.filename ?? c.dim('(file name unknown)')}  ${found ? c.dim(`down SQL from ${ORIGIN_LABEL[found.origin]}`) : c.red('no down SQL found')}`);
    }
  }
  if (comparison.pending.length) out.line(`  pending      ${listVersions(comparison.pending.map((m) => m.version))}`);
  printPlan(out, plan, false);
  const next = nextCommand(plan) ?? (comparison.pending.length ? 'dbguard migrate   (or your own migrator)' : null);
  out.line(`  next         ${next ? c.bold(next) : 'nothing to do'}`);
  const exitCode = plan.kind === 'refuse' ? ExitCode.unsafe : plan.kind === 'rollback' ? ExitCode.actionNeeded : ExitCode.ok;
  return {
    exitCode,
    json: {
      ...json,
      schemaMigrations: current,
      phantoms: candidates.map((cand) => ({ version: cand.version, filename: cand.filename ?? null, downSqlSource: downSql.get(cand.version)?.origin ?? null })),
      plan: planJson(plan),
      next,
    },
  };
}
