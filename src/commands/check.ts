/** `dbguard check`: the hook's pure check (cache versus disk), no database. Exit 1 on conflict. */
import { assertCacheBelongsTo, type MigrationCache } from '../core/cache.js';
import type { Plan } from '../core/plan.js';
import { foreseenRefusal, knownRefusal, type Refusal } from '../core/refusals.js';
import { assertCatalogUsable, maxVersion } from '../core/catalog.js';
import { filesToHash, findPhantomMigrations } from '../core/compare.js';
import { ExitCode, isDbguardError } from '../core/errors.js';
import type { Settings } from '../core/settings.js';
import { embeddedServerFor } from '../engine/embedded.js';
import { databaseMayExist, databaseRef, type DatabaseRef } from '../engine/identity.js';
import { planAndRebuildCache } from '../engine/rollback.js';
import { withSession } from '../engine/session.js';
import { listVersions } from '../core/text.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { hashFiles } from '../fs/file-hash.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { readCacheFile } from '../fs/state.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

export async function checkCommand(ctx: CommandContext, options: { offline?: boolean } = {}): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const ref = databaseRef(settings);
  const cache = readCacheFile(ref.paths.cacheFile);
  if (cache) assertCacheBelongsTo(cache, ref.identity);
  const dir = absoluteMigrationsDir(settings);
  const disk = readDiskState(dir);
  // What migrate would refuse (a bad name, a reused version), check refuses too.
  assertCatalogUsable(disk.catalog, settings.migrationsDir);
  const result = findPhantomMigrations(cache, disk, cache ? await hashFiles(dir, filesToHash(cache, disk, true)) : new Map());
  const { out } = ctx;
  // Below the highest applied version, a pending file is out of order (§10), as status and migrate say.
  const cacheTop = cache ? maxVersion(cache.migrations.keys()) : null;
  const late = result.pending.filter((m) => cacheTop !== null && m.version < cacheTop).map((m) => m.version);
  const json = {
    firstRun: result.firstRun, conflicts: result.conflicts, adopted: result.adopted, edited: result.edited,
    pending: result.pending.map((m) => ({ version: m.version, filename: m.up, outOfOrder: cacheTop !== null && m.version < cacheTop })),
  };
  if (result.firstRun) {
    if (!databaseMayExist(ref)) {
      out.line('no migration cache and no database yet: nothing to compare');
      return { exitCode: ExitCode.ok, json };
    }
    // A lost cache is not "clean": ask the database, and rebuild the cache while there (§2).
    const planned = await withSession(settings, { destructive: false }, (session) => planAndRebuildCache(session, settings));
    const phantoms = planned.candidates.map((c) => ({ version: c.version, filename: c.filename ?? null }));
    out.line(`no migration cache: checked the database instead (cache rebuilt)`);
    if (phantoms.length === 0) {
      out.line(`${out.c.green('clean')}: every applied migration is on disk`);
      return { exitCode: ExitCode.ok, json: { ...json, checkedDatabase: true, phantoms } };
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
  const dbJson = asked?.kind === 'answered' ? { checkedDatabase: true, phantoms: asked.phantoms } : { checkedDatabase: false };
  for (const renamed of result.adopted) out.line(`renamed: ${renamed.version} ${renamed.filename} → ${renamed.diskFilename} (same content: adopted)`);
  if (result.edited.length > 0) {
    out.line(`${out.c.yellow('edited since applied')}: the database ran an older version of ${result.edited.map((e) => e.filename).join(', ')}`);
    out.line('  dbguard rollback the branch that lacks it and migrate again, or accept the database as it is: dbguard capture --accept-edits');
  }
  if (result.conflicts.length === 0) {
    out.line(`${out.c.green('clean')}: every applied migration is on disk${result.pending.length ? `; ${result.pending.length} pending` : ''}${late.length ? ` (out of order: ${listVersions(late)})` : ''}`);
    return { exitCode: result.edited.length > 0 ? ExitCode.actionNeeded : ExitCode.ok, json: { ...json, ...dbJson } };
  }
  out.line(`${out.c.yellow('conflict')}: ${result.conflicts.length} applied migration${result.conflicts.length === 1 ? ' is' : 's are'} not on this branch`);
  for (const conflict of result.conflicts) {
    const why = conflict.kind === 'renamed' ? `renamed to ${conflict.diskFilename}` : conflict.kind === 'unreadable' ? `unreadable (${conflict.error})` : 'missing';
    out.line(`  ${conflict.version}  ${conflict.filename}  ${out.c.dim(why)}`);
  }
  // The database's plan when it answered, else what the cache knows: a rollback that would refuse is not proposed (§18).
  const foreseen = asked?.kind === 'answered' ? asked.plan : knownRefusal(cache as MigrationCache, result.conflicts.map((c) => c.version));
  for (const line of adviceFrom(foreseen)) out.line(line);
  return { exitCode: ExitCode.actionNeeded, json: { ...json, ...dbJson } };
}

type DatabaseAnswer =
  | { readonly kind: 'answered'; readonly where: string; readonly phantoms: ReadonlyArray<{ version: bigint; filename: string | null }>; readonly plan: Plan }
  | { readonly kind: 'not-asked'; readonly why: string };

async function askDatabase(settings: Settings, ref: DatabaseRef): Promise<DatabaseAnswer> {
  if (ref.kind === 'embedded') {
    const server = embeddedServerFor(settings);
    if (!server.isInitialised()) return { kind: 'not-asked', why: 'the embedded database has not been created yet' };
    if (!server.running()) return { kind: 'not-asked', why: 'the embedded database is stopped' };
  }
  try {
    const planned = await withSession(settings, { destructive: false }, (session) => planAndRebuildCache(session, settings));
    return { kind: 'answered', where: ref.kind === 'embedded' ? 'the embedded database is running' : 'external', phantoms: planned.candidates.map((c) => ({ version: c.version, filename: c.filename ?? null })), plan: planned.plan };
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
