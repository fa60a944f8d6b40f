/**
 * What the last hook run learned, trusted the way git's index trusts stat data. Two parts:
 *
 * - the cache's summary (applied file names, database, uncaptured count), valid while the cache
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
import { readFileSync, renameSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CacheSummary } from '../core/cache.js';

const RACY_NS = 2000n * 1_000_000n;

interface Stamp {
  readonly v: 2;
  readonly identity: string;
  readonly cacheStat: string;
  readonly checkedAtNs: string;
  readonly database: string | null;
  /** Applied up file names joined by "\n" (validated names cannot hold line breaks). */
  readonly filenames: string;
  readonly uncaptured: number;
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
export function snapshotBeforeCheck(dir: string, cacheFile: string): StatSnapshot {
  const checkedAtNs = BigInt(Date.now()) * 1_000_000n;
  const dirStats = statOf(dir);
  const cacheStats = statOf(cacheFile);
  return {
    dirStat: dirStats && statKey(dirStats, false), dirMtimeNs: dirStats?.mtimeNs ?? null,
    cacheStat: cacheStats && statKey(cacheStats, true), cacheMtimeNs: cacheStats?.mtimeNs ?? null, checkedAtNs,
  };
}

const settled = (stamp: Stamp, mtimeNs: bigint | null) => mtimeNs !== null && BigInt(stamp.checkedAtNs) - mtimeNs >= RACY_NS;

export type HookMemo =
  /** The folder and the cache are unchanged since a check found them clean. */
  | { readonly clean: true }
  /** The cache's summary when the cache is unchanged since it was recorded; otherwise null. */
  | { readonly clean: false; readonly summary: CacheSummary | null };

const NOTHING: HookMemo = { summary: null, clean: false };

export function readHookMemo(stampFile: string, dir: string, identity: string, now: StatSnapshot): HookMemo {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as Stamp;
  } catch {
    return NOTHING;
  }
  if (stamp.v !== 2 || stamp.identity !== identity || now.cacheStat === null || stamp.cacheStat !== now.cacheStat || !settled(stamp, now.cacheMtimeNs)) return NOTHING;
  if (stamp.clean && stamp.clean.dir === dir && stamp.clean.dirStat === now.dirStat && settled(stamp, now.dirMtimeNs)) return { clean: true };
  if (typeof stamp.filenames !== 'string' || typeof stamp.uncaptured !== 'number') return NOTHING;
  // Split only here: the unchanged-folder answer above needs no file names.
  return { clean: false, summary: { database: stamp.database ?? undefined, filenames: stamp.filenames === '' ? [] : stamp.filenames.split('\n'), uncaptured: stamp.uncaptured } };
}

export interface CheckRecord {
  readonly dir: string;
  readonly identity: string;
  readonly cacheFile: string;
  readonly summary: CacheSummary;
  /** The folder held every applied file, nothing uncaptured, and only regular files. */
  readonly clean: boolean;
}

/**
 * Records what a check learned, unless the cache (or, for "clean", the folder) changed while it ran.
 * A failed write only means the next hook does the full check again, so it is not an error.
 */
export function recordCheck(stampFile: string, record: CheckRecord, before: StatSnapshot): void {
  const after = snapshotBeforeCheck(record.dir, record.cacheFile);
  if (before.cacheStat === null || after.cacheStat !== before.cacheStat) return;
  const clean = record.clean && before.dirStat !== null && after.dirStat === before.dirStat;
  const stamp: Stamp = {
    v: 2, identity: record.identity, cacheStat: before.cacheStat, checkedAtNs: before.checkedAtNs.toString(),
    database: record.summary.database ?? null, filenames: record.summary.filenames.join('\n'), uncaptured: record.summary.uncaptured,
    ...(clean ? { clean: { dir: record.dir, dirStat: before.dirStat as string } } : {}),
  };
  const temp = `${stampFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(stamp));
    renameSync(temp, stampFile);
  } catch {
    // Best effort by design (see above).
  }
}
