/**
 * `dbguard check`: the cache against the disk, and the database when it answers without starting anything
 * (§14). Exit 1 on conflict, 3 when the database is (or was last seen) dirty, as status refuses it.
 */
import { assertCacheBelongsTo, type MigrationCache } from '../core/cache.js';
import type { Plan } from '../core/plan.js';
import { foreseenRefusal, knownRefusal, type Refusal } from '../core/refusals.js';
import { assertCatalogUsable, compareVersions, maxVersion } from '../core/catalog.js';
import { filesToHash, findPhantomMigrations } from '../core/compare.js';
import { ExitCode, isDbguardError, type DbguardError } from '../core/errors.js';
import { dirtyAdvice, pendingMigrations, type PendingMigrations } from '../core/plan.js';
import type { Settings } from '../core/settings.js';
import { embeddedServerFor } from '../engine/embedded.js';
import { databaseMayExist, databaseRef, type DatabaseRef } from '../engine/identity.js';
import { planAndRebuildCache } from '../engine/rollback.js';
import { withSession } from '../engine/session.js';
import { listVersions } from '../core/text.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { hashFiles } from '../fs/file-hash.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { invalidPending } from '../fs/migration-files.js';
import { readCacheFile } from '../fs/state.js';
import { formatOf } from '../formats/index.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import { editedChoices, UNCAPTURED_ADVICE } from './plan-view.js';

export async function checkCommand(ctx: CommandContext, options: { offline?: boolean } = {}): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const ref = databaseRef(settings);
  const format = formatOf(settings);
  const cache = readCacheFile(ref.paths.cacheFile, format);
  if (cache) assertCacheBelongsTo(cache, ref.identity);
  const dir = absoluteMigrationsDir(settings);
  const disk = readDiskState(dir, format);
  // What migrate would refuse (a bad name, a reused version), check refuses too.
  assertCatalogUsable(disk.catalog, settings.migrationsDir);
  const result = findPhantomMigrations(cache, disk, cache ? await hashFiles(dir, filesToHash(cache, disk, true)) : new Map());
  const { out } = ctx;
  // Below the highest applied version, a pending file is out of order (§10), as status and migrate say.
  const cacheTop = cache ? maxVersion(cache.migrations.keys()) : null;
  const byCache: PendingMigrations = {
    ahead: result.pending.filter((m) => cacheTop === null || m.version > cacheTop).map((m) => m.version),
    outOfOrder: result.pending.filter((m) => cacheTop !== null && m.version < cacheTop).map((m) => m.version),
    uncaptured: [],
  };
  const pendingJson = (pending: PendingMigrations) => ({
    pending: [...pending.ahead, ...pending.outOfOrder].sort(compareVersions).map((version) => ({ version, filename: disk.catalog.byVersion.get(version)?.up, outOfOrder: pending.outOfOrder.includes(version) })),
    appliedUncaptured: pending.uncaptured.map((version) => ({ version, filename: disk.catalog.byVersion.get(version)?.up })),
  });
  // What migrate would refuse reading a pending file (a marker its tool would misread) is not clean.
  const invalidOf = (pending: PendingMigrations) => invalidPending(format, dir, disk.catalog, [...pending.ahead, ...pending.outOfOrder]);
  const json = { firstRun: result.firstRun, conflicts: result.conflicts, adopted: result.adopted, edited: result.edited, ...pendingJson(byCache), dirty: null as bigint | null };
  if (result.firstRun) {
    if (!databaseMayExist(ref)) {
      out.line('no migration cache and no database yet: nothing to compare');
      return invalidVerdict(ctx, invalidOf(byCache), { exitCode: ExitCode.ok, json });
    }
    // A lost cache is not "clean": ask the database, and rebuild the cache while there (§2).
    const planned = await withSession(settings, { destructive: false }, (session) => planAndRebuildCache(session, settings));
    const phantoms = planned.candidates.map((c) => ({ version: c.version, filename: c.filename ?? null }));
    out.line(`no migration cache: checked the database instead (cache rebuilt)`);
    const current = planned.state.current;
    if (current?.dirty) return dirtyVerdict(ctx, current.version, 'now', phantoms.map((p) => p.version), { ...json, checkedDatabase: true, phantoms });
    const invalid = invalidOf(pendingMigrations(planned.applied));
    if (phantoms.length === 0) {
      if (invalid.length === 0) out.line(`${out.c.green('clean')}: every applied migration is on disk`);
      return invalidVerdict(ctx, invalid, { exitCode: ExitCode.ok, json: { ...json, checkedDatabase: true, phantoms } });
    }
    out.line(`${out.c.yellow('conflict')}: ${phantoms.length} applied migration${phantoms.length === 1 ? ' is' : 's are'} not on this branch: ${listVersions(phantoms.map((p) => p.version))}`);
    for (const line of adviceFrom(planned.plan)) out.line(line);
    return { exitCode: ExitCode.actionNeeded, json: { ...json, checkedDatabase: true, phantoms } };
  }
  // §14: the cache may not know what the app applied itself. A database that answers without starting
  // anything (external, or the embedded server running) is asked; a stopped embedded one is not.
  const asked = options.offline ? null : await askDatabase(settings, ref);
  if (asked?.kind === 'answered') {
    const known = new Set(result.conflicts.map((c) => c.version));
    const unknown = asked.phantoms.filter((p) => !known.has(p.version));
    out.line(out.c.dim(`checked the database too (${asked.where})`));
    if (asked.dirty !== null) {
      const phantoms = [...new Set([...result.conflicts.map((c) => c.version), ...asked.phantoms.map((p) => p.version)])];
      return dirtyVerdict(ctx, asked.dirty, 'now', phantoms, { ...json, checkedDatabase: true, phantoms: asked.phantoms });
    }
    if (unknown.length > 0) {
      out.line(`${out.c.yellow('conflict')}: ${unknown.length} applied migration${unknown.length === 1 ? ' is' : 's are'} not on this branch, applied without dbguard seeing it (the cache did not list ${unknown.length === 1 ? 'it' : 'them'}): ${listVersions(unknown.map((p) => p.version))}`);
      if (result.conflicts.length === 0) {
        for (const line of adviceFrom(asked.plan)) out.line(line);
        return { exitCode: ExitCode.actionNeeded, json: { ...json, checkedDatabase: true, phantoms: asked.phantoms } };
      }
    }
  } else if (asked) {
    out.line(out.c.dim(`answer from the cache: ${asked.why} (dbguard status asks the database)`));
  }
  // The database's answer, when it was asked, counts what the app applied itself as applied (§3), as status and migrate do.
  const pending = asked?.kind === 'answered' ? asked.pending : byCache;
  const dbJson = asked?.kind === 'answered' ? { checkedDatabase: true, phantoms: asked.phantoms, ...pendingJson(pending) } : { checkedDatabase: false };
  const waiting = pending.ahead.length + pending.outOfOrder.length;
  // Not asked: the cache keeps what the database last said about its dirty flag.
  if (asked?.kind !== 'answered' && cache?.dirty !== undefined) return dirtyVerdict(ctx, cache.dirty, 'last', result.conflicts.map((c) => c.version), { ...json, ...dbJson });
  for (const renamed of result.adopted) out.line(`renamed: ${renamed.version} ${renamed.filename} → ${renamed.diskFilename} (same content: adopted)`);
  if (result.edited.length > 0) {
    out.line(`${out.c.yellow('edited since applied')}: the database ran an older version of ${result.edited.map((e) => e.filename).join(', ')}`);
    // A tool that says it in its own words (Prisma's checksum message) gives its own fix.
    const toolWords = format.editedWords;
    if (toolWords) for (const e of result.edited) out.line(`  ${toolWords(e.filename).words} ${toolWords(e.filename).fix}`);
    else out.line(`  ${editedChoices(result.edited.map((e) => e.version), result.edited.filter((e) => cache?.migrations.get(e.version)?.downCaptured !== true).map((e) => e.version)).line}`);
  }
  if (result.conflicts.length === 0) {
    const invalid = invalidOf(pending);
    // Not "clean" while an applied file was edited since: the exit code says action is needed.
    const onDisk = result.edited.length > 0 ? 'every applied migration is on disk, but edited since applied' : `${out.c.green('clean')}: every applied migration is on disk`;
    const verdict = invalid.length > 0 ? 'every applied migration is on disk, but a pending file is invalid' : onDisk;
    out.line(`${verdict}${waiting ? `; ${waiting} pending` : ''}${pending.outOfOrder.length ? ` (out of order: ${listVersions(pending.outOfOrder)})` : ''}`);
    if (pending.uncaptured.length) out.line(`${listVersions(pending.uncaptured)} ${UNCAPTURED_ADVICE}`);
    return invalidVerdict(ctx, invalid, { exitCode: result.edited.length > 0 ? ExitCode.actionNeeded : ExitCode.ok, json: { ...json, ...dbJson } });
  }
  out.line(`${out.c.yellow('conflict')}: ${result.conflicts.length} applied migration${result.conflicts.length === 1 ? ' is' : 's are'} not on this branch`);
  for (const conflict of result.conflicts) {
    const why = conflict.kind === 'renamed'
      ? (conflict.otherContent ? `missing (${conflict.diskFilename} holds version ${conflict.version} with other content)` : `renamed to ${conflict.diskFilename}`)
      : conflict.kind === 'unreadable' ? `unreadable (${conflict.error})` : 'missing';
    out.line(`  ${conflict.version}  ${conflict.filename}  ${out.c.dim(why)}`);
  }
  // The database's plan when it answered, else what the cache knows: a rollback that would refuse is not proposed (§18).
  const foreseen = asked?.kind === 'answered' ? asked.plan : knownRefusal(cache as MigrationCache, result.conflicts.map((c) => c.version), format, settings.branchDatabases.enabled);
  for (const line of adviceFrom(foreseen)) out.line(line);
  return { exitCode: ExitCode.actionNeeded, json: { ...json, ...dbJson } };
}

/** Pending files migrate would refuse: each named, the first one's fix next, exit 1 (the verdict's own otherwise). */
function invalidVerdict(ctx: CommandContext, invalid: readonly DbguardError[], verdict: CommandResult): CommandResult {
  const { out } = ctx;
  for (const error of invalid) out.line(`${out.c.red('invalid')}: ${error.message}`);
  const first = invalid[0];
  if (first?.hint) out.line(`next: ${first.hint}`);
  const json = { ...verdict.json, invalid: invalid.map((e) => ({ code: e.code, message: e.message, hint: e.hint ?? null })) };
  return { exitCode: invalid.length > 0 && verdict.exitCode === ExitCode.ok ? ExitCode.actionNeeded : verdict.exitCode, json };
}

/**
 * A dirty database (§4) is not clean, whatever else is true: exit 3 as status refuses it, the version
 * and `force` named. `seen`: asked now, or what the cache kept from the last time the database was asked.
 */
function dirtyVerdict(ctx: CommandContext, version: bigint, seen: 'now' | 'last', phantoms: readonly bigint[], json: Record<string, unknown>): CommandResult {
  const { out } = ctx;
  const advice = dirtyAdvice(version);
  const state = seen === 'now' ? `is dirty at version ${version}` : `was dirty at version ${version} when dbguard last asked it`;
  out.line(`${out.c.red('dirty')}: the database ${state}: ${advice.what}`);
  if (phantoms.length > 0) {
    out.line(`  and ${phantoms.length} applied migration${phantoms.length === 1 ? ' is' : 's are'} not on this branch: ${listVersions(phantoms)} (dbguard rollback once it is clean)`);
  }
  out.line(`next: ${advice.fix}`);
  return { exitCode: ExitCode.unsafe, json: { ...json, dirty: version } };
}

type DatabaseAnswer =
  | {
    readonly kind: 'answered'; readonly where: string; readonly phantoms: ReadonlyArray<{ version: bigint; filename: string | null }>;
    /** The version schema_migrations is dirty at, or null when clean. */
    readonly dirty: bigint | null;
    /** Pending and uncaptured, counted from the applied set the plan read (as status and migrate count them). */
    readonly pending: PendingMigrations;
    /** The plan rollback would run or refuse: check proposes only what it will do (§18). */
    readonly plan: Plan;
  }
  | { readonly kind: 'not-asked'; readonly why: string };

async function askDatabase(settings: Settings, ref: DatabaseRef): Promise<DatabaseAnswer> {
  if (ref.kind === 'embedded') {
    const server = embeddedServerFor(settings);
    if (!server.isInitialised()) return { kind: 'not-asked', why: 'the embedded database has not been created yet' };
    if (!server.running()) return { kind: 'not-asked', why: 'the embedded database is stopped' };
  }
  try {
    const planned = await withSession(settings, { destructive: false }, (session) => planAndRebuildCache(session, settings));
    const current = planned.state.current;
    return {
      kind: 'answered', where: ref.kind === 'embedded' ? 'the embedded database is running' : 'external',
      phantoms: planned.candidates.map((c) => ({ version: c.version, filename: c.filename ?? null })), dirty: current?.dirty ? current.version : null,
      pending: pendingMigrations(planned.applied), plan: planned.plan,
    };
  } catch (error) {
    if (isDbguardError(error) && (error.code === 'DB_CONNECT_FAILED' || error.code === 'DB_AUTH_FAILED')) return { kind: 'not-asked', why: `the database did not answer (${error.code})` };
    throw error;
  }
}

/** The next step for phantoms: the refusal's own fix when a rollback would refuse, else the rollback. */
function adviceFrom(foreseen: Plan | Refusal | null): string[] {
  if (foreseen !== null && (!('kind' in foreseen) || foreseen.kind === 'refuse')) return foreseenRefusal(foreseen);
  return ['next: dbguard rollback   (or dbguard status for the full picture)'];
}
