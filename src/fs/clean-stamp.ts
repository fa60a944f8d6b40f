/**
 * What the last hook run learned, trusted the way git's index trusts stat data. Two parts:
 *
 * - the cache's summary (applied file names, database, uncaptured versions), valid while the cache
 *   file's stat data is unchanged: a checkout that changes the migrations folder leaves the cache
 *   alone, so the next check skips parsing and validating 20,000 JSON entries;
 * - "clean", valid while the folder's stat data is also unchanged: a checkout that leaves the
 *   folder alone (the usual one) is answered without listing it.
 *
 * Adding, removing or renaming a file changes the folder's mtime and ctime (ctime cannot be set back
 * by tools); rewriting the cache (always by rename) changes its inode and ctime. A change in the same
 * clock tick as the check could hide behind equal times, so data recorded within RACY_MS of a file's
 * mtime is not trusted ("racily clean", as git calls it). Folders holding links or other non-regular
 * entries never count as clean: a link's target can change without its folder changing.
 */
import { readFileSync, renameSync, rmSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CacheSummary } from '../core/cache.js';
import { FAST_PATH_FILE } from '../core/hook-check.js';
import { hookCleanMarkerPath, readStateText } from './state.js';

const RACY_NS = 2000n * 1_000_000n;

interface Stamp {
  readonly v: 3;
  readonly identity: string;
  readonly cacheStat: string;
  readonly checkedAtNs: string;
  readonly database: string | null;
  /** Applied up file names joined by "\n" (validated names cannot hold line breaks). */
  readonly filenames: string;
  /** Uncaptured versions, joined by ",". */
  readonly uncaptured: string;
  /**
   * The uncaptured versions (joined) whose down SQL the hook already looked for everywhere (§7: do not
   * start Postgres for them again). Keyed by content, not stat data: it is recorded right after the
   * capture rewrote the cache, when stat data is always too fresh to trust.
   */
  readonly captureTriedFor?: string;
  /** Present only when the check found the folder clean. */
  readonly clean?: { readonly dir: string; readonly dirStat: string };
}

export function cleanStampPath(cacheFile: string): string {
  return join(dirname(cacheFile), 'clean-stamp.json');
}

function statKey(stats: BigIntStats, withSize: boolean): string {
  return [stats.dev, stats.ino, stats.mtimeNs, stats.ctimeNs, withSize ? stats.size : 0n].join(':');
}

function statOf(path: string): BigIntStats | null {
  try {
    return statSync(path, { bigint: true });
  } catch {
    return null;
  }
}

export interface StatSnapshot {
  readonly dirStat: string | null;
  readonly dirMtimeNs: bigint | null;
  readonly cacheStat: string | null;
  readonly cacheMtimeNs: bigint | null;
  readonly checkedAtNs: bigint;
}

/**
 * The folder's and cache's stat data, taken once before the check: the memo is judged against it, and
 * a new record is compared with it afterwards, so a change during the check is noticed.
 */
export function snapshotBeforeCheck(dir: string, cacheFile: string, indexFile?: string): StatSnapshot {
  const checkedAtNs = BigInt(Date.now()) * 1_000_000n;
  const dirStats = statOf(dir);
  const cacheStats = statOf(cacheFile);
  // A format's index (Drizzle's journal) changes the migrations as much as the folder does.
  const index = indexFile === undefined ? null : statOf(indexFile);
  const indexKey = indexFile === undefined ? '' : `|${index ? statKey(index, true) : 'none'}`;
  const newest = index !== null && dirStats !== null && index.mtimeNs > dirStats.mtimeNs ? index.mtimeNs : dirStats?.mtimeNs ?? null;
  return {
    dirStat: dirStats && statKey(dirStats, false) + indexKey, dirMtimeNs: newest,
    cacheStat: cacheStats && statKey(cacheStats, true), cacheMtimeNs: cacheStats?.mtimeNs ?? null, checkedAtNs,
  };
}

const settled = (stamp: Stamp, mtimeNs: bigint | null) => mtimeNs !== null && BigInt(stamp.checkedAtNs) - mtimeNs >= RACY_NS;

export type HookMemo =
  /** The folder and the cache are unchanged since a check found them clean. */
  | { readonly clean: true }
  /** The cache's summary when the cache is unchanged since it was recorded; otherwise null. */
  | { readonly clean: false; readonly summary: CacheSummary | null; readonly captureTriedFor: string | null };

const NOTHING = { summary: null, clean: false, captureTriedFor: null } as const satisfies HookMemo;

/** The key captureTriedFor is compared with. */
export const uncapturedKey = (summary: CacheSummary): string => summary.uncaptured.join(',');

export function readHookMemo(stampFile: string, dir: string, identity: string, now: StatSnapshot): HookMemo {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as Stamp;
  } catch {
    return NOTHING;
  }
  if (stamp.v !== 3 || stamp.identity !== identity) return NOTHING;
  const captureTriedFor = typeof stamp.captureTriedFor === 'string' ? stamp.captureTriedFor : null;
  if (now.cacheStat === null || stamp.cacheStat !== now.cacheStat || !settled(stamp, now.cacheMtimeNs)) return { ...NOTHING, captureTriedFor };
  if (stamp.clean && stamp.clean.dir === dir && stamp.clean.dirStat === now.dirStat && settled(stamp, now.dirMtimeNs)) return { clean: true };
  if (typeof stamp.filenames !== 'string' || typeof stamp.uncaptured !== 'string') return { ...NOTHING, captureTriedFor };
  // Split only here: the unchanged-folder answer above needs no file names.
  const split = (text: string, by: string) => (text === '' ? [] : text.split(by));
  return {
    clean: false, captureTriedFor,
    summary: { database: stamp.database ?? undefined, filenames: split(stamp.filenames, '\n'), uncaptured: split(stamp.uncaptured, ',') },
  };
}

export interface CheckRecord {
  readonly dir: string;
  /** The format's index file (Drizzle's journal), watched with the folder. */
  readonly indexFile?: string | undefined;
  readonly identity: string;
  readonly cacheFile: string;
  readonly summary: CacheSummary;
  /** The folder held every applied file, nothing uncaptured (or already searched for), only regular files. */
  readonly clean: boolean;
  /** uncapturedKey of the summary when the hook searched for those versions' down SQL, else null. */
  readonly captureTriedFor: string | null;
  /**
   * For the shim's node-less path: this worktree's git dir, the paths (from its top) whose change
   * between two revisions needs a check, and the folder whose change on disk since the check does too
   * (`git stash -u` takes an applied, uncommitted migration away without any revision changing).
   * Absent when git's view of the folder cannot be trusted (it lies behind a symbolic link).
   */
  readonly fastPath?: { readonly gitDir: string; readonly pathspecs: readonly string[]; readonly watch: string };
}

/**
 * Records what a check learned, unless the cache (or, for "clean", the folder) changed while it ran.
 * A failed write only means the next hook does the full check again, so it is not an error.
 */
export function recordCheck(stampFile: string, record: CheckRecord, before: StatSnapshot): void {
  const marker = hookCleanMarkerPath(record.cacheFile);
  const after = snapshotBeforeCheck(record.dir, record.cacheFile, record.indexFile);
  if (before.cacheStat === null || after.cacheStat !== before.cacheStat) {
    rmSync(marker, { force: true });
    return;
  }
  const clean = record.clean && before.dirStat !== null && after.dirStat === before.dirStat;
  const stamp: Stamp = {
    v: 3, identity: record.identity, cacheStat: before.cacheStat, checkedAtNs: before.checkedAtNs.toString(),
    database: record.summary.database ?? null, filenames: record.summary.filenames.join('\n'), uncaptured: uncapturedKey(record.summary),
    ...(record.captureTriedFor === null ? {} : { captureTriedFor: record.captureTriedFor }),
    ...(clean ? { clean: { dir: record.dir, dirStat: before.dirStat as string } } : {}),
  };
  writeBestEffort(stampFile, JSON.stringify(stamp));
  const fields = record.fastPath ? [marker, record.fastPath.watch, ...record.fastPath.pathspecs] : [];
  if (record.clean && record.fastPath && fields.every((field) => !/[\t\n]/.test(field))) {
    // The marker sits beside the cache, which every cache write removes (fs/state); the pointer tells the
    // shim where it is, which folder to watch and which paths, changed between two revisions, need a real check.
    writeBestEffort(marker, '');
    writeFastPathLine(record.fastPath.gitDir, marker, fields.join('\t'));
  } else {
    rmSync(marker, { force: true });
    if (record.fastPath) writeFastPathLine(record.fastPath.gitDir, marker, marker);
  }
}

/**
 * One line per dbguard project of the repository (a monorepo may hold several), keyed by its marker:
 * the shim skips node only when every line vouches for its project. A project that is not clean keeps
 * a line naming only its marker, which is absent, so the shim runs node.
 */
function writeFastPathLine(gitDir: string, marker: string, line: string): void {
  const file = join(gitDir, FAST_PATH_FILE);
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch {
    // None yet.
  }
  const others = lines.filter((other) => {
    const key = other.split('\t')[0] ?? '';
    return key.endsWith('hook-clean') && key !== marker; // another project's line; old-format lines go
  });
  writeBestEffort(file, `${[...others, line].join('\n')}\n`);
}

/** The newest git stash whose migration files the hook already looked for (once per stash). */
export const stashSeenPath = (cacheFile: string): string => join(dirname(cacheFile), 'stash-seen');

export function readStashSeen(cacheFile: string): string | null {
  return readStateText(stashSeenPath(cacheFile), 128)?.trim() ?? null;
}

export function recordStashSeen(cacheFile: string, stash: string): void {
  writeBestEffort(stashSeenPath(cacheFile), `${stash}\n`);
}

function writeBestEffort(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, text, { flag: 'wx' }); // never through a file (or link) that is already there
    renameSync(temp, path);
  } catch {
    // Best effort by design (see above): the next hook does the full check.
  }
}
