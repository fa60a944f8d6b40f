/**
 * "Nothing changed since the last clean check", the way git's index trusts stat data. After a full
 * check finds the cache and the migrations folder in agreement, we record both files' stat data. A
 * later hook that finds the folder (its entries) and the cache file unchanged knows the answer without
 * listing 20,000 files or parsing the cache again.
 *
 * Adding, removing or renaming a file changes the folder's mtime and ctime (ctime cannot be set back
 * by tools). A change in the same clock tick as the check could hide behind an equal mtime, so a stamp
 * whose folder mtime is within RACY_MS of the check is not trusted ("racily clean", as git calls it).
 * Folders holding links or other non-regular entries never get a stamp: a link's target can change
 * without its folder changing.
 */
import { readFileSync, renameSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';

const RACY_MS = 2000n;

interface Stamp {
  readonly v: 1;
  readonly dir: string;
  readonly identity: string;
  readonly dirStat: string;
  readonly cacheStat: string;
  readonly checkedAtNs: string;
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

/** True only when a stamp exists, matches this folder, database and cache, and is not racy. */
export function isKnownClean(stampFile: string, dir: string, identity: string, cacheFile: string): boolean {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as Stamp;
  } catch {
    return false;
  }
  const dirStats = statOf(dir);
  const cacheStats = statOf(cacheFile);
  if (!dirStats || !cacheStats || stamp.v !== 1 || stamp.dir !== dir || stamp.identity !== identity) return false;
  if (stamp.dirStat !== statKey(dirStats, false) || stamp.cacheStat !== statKey(cacheStats, true)) return false;
  return BigInt(stamp.checkedAtNs) - dirStats.mtimeNs >= RACY_MS * 1_000_000n && BigInt(stamp.checkedAtNs) - cacheStats.mtimeNs >= RACY_MS * 1_000_000n;
}

export interface StatSnapshot {
  readonly dirStat: string;
  readonly cacheStat: string;
  readonly checkedAtNs: bigint;
}

/** Taken before the folder is listed and the cache read, so a change during the check is noticed. */
export function snapshotBeforeCheck(dir: string, cacheFile: string): StatSnapshot | null {
  const checkedAtNs = BigInt(Date.now()) * 1_000_000n;
  const dirStats = statOf(dir);
  const cacheStats = statOf(cacheFile);
  return dirStats && cacheStats ? { dirStat: statKey(dirStats, false), cacheStat: statKey(cacheStats, true), checkedAtNs } : null;
}

/**
 * Records a clean check, unless the folder or cache changed while it ran. A failed write only means
 * the next hook does the full check again, so it is not an error.
 */
export function recordClean(stampFile: string, dir: string, identity: string, cacheFile: string, before: StatSnapshot): void {
  const after = snapshotBeforeCheck(dir, cacheFile);
  if (!after || after.dirStat !== before.dirStat || after.cacheStat !== before.cacheStat) return;
  const stamp: Stamp = { v: 1, dir, identity, dirStat: before.dirStat, cacheStat: before.cacheStat, checkedAtNs: before.checkedAtNs.toString() };
  const temp = `${stampFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(stamp));
    renameSync(temp, stampFile);
  } catch {
    // Best effort by design (see above).
  }
}
