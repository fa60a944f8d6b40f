/** Where dbguard keeps its state for a database (DESIGN §1, §6), and the atomic cache file. */
import type { MigrationFormat } from '../core/format.js';
import { accessSync, closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseCache, serializeCache, type MigrationCache } from '../core/cache.js';
import { readBoundedText, readHead } from './bounded-read.js';
import { DbguardError } from '../core/errors.js';

export { EMBEDDED_IDENTITY, statePathsFor, type StatePaths } from '../core/state-layout.js';

/** The cache file's text, or null when there is none yet (first run). Unreadable is an error. */
/** The cache of 20,000 migrations is about 2 MB; far more is not a cache dbguard wrote. */
const MAX_CACHE_BYTES = 256 * 1024 * 1024;

export function readCacheText(path: string): string | null {
  try {
    return readBoundedText(path, MAX_CACHE_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new DbguardError('CACHE_CORRUPT', `cannot read migration cache ${path} (${code})`, { hint: 'dbguard capture', details: { path } });
  }
}

/** The cache, or null when there is none yet (first run). Unreadable or corrupt is an error. */
export function readCacheFile(path: string, format: MigrationFormat): MigrationCache | null {
  const text = readCacheText(path);
  return text === null ? null : parseCache(text, format);
}

/**
 * Checked before a command changes the database: a rollback whose cache cannot be written afterwards
 * would leave the next hook comparing against a stale cache.
 */
export function assertStateDirWritable(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new DbguardError('STATE_DIR_UNWRITABLE', `state directory ${dir} is not writable (${code}); nothing was changed`, {
      hint: `fix the permissions of ${dir} (or set "stateDir" in dbguard.config.json), then run the command again`, details: { dir, error: code },
    });
  }
}

function writeFailed(path: string, error: unknown): DbguardError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new DbguardError('STATE_WRITE_FAILED', `cannot write ${path} (${code})`, {
    hint: `check that ${dirname(path)} is writable, then run the command again`, details: { path, error: code },
  });
}

/**
 * Temp file + fsync + rename, so a crash leaves the old cache or the new one, never half of one.
 * `durable: false` skips the fsync: the rename alone is atomic for a killed process, only a power loss
 * needs the flush (rollback's per-step records, which the final durable write follows).
 */
export function writeFileAtomic(path: string, text: string, mode = 0o644, durable = true): void {
  const temp = `${path}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temp, text, { mode, flag: 'wx' }); // never through a file (or link) that is already there
    if (durable) {
      const fd = openSync(temp, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw writeFailed(path, error);
  }
}

/**
 * Present while the hook's last check was clean (fs/clean-stamp); the shim then skips node when the
 * migrations did not change. Any change of the cache takes it away first, so it can never vouch for a
 * cache it has not seen.
 */
export function hookCleanMarkerPath(cacheFile: string): string {
  return join(dirname(cacheFile), 'hook-clean');
}

export function writeCacheFile(path: string, cache: MigrationCache, format: MigrationFormat, durable = true): void {
  try {
    rmSync(hookCleanMarkerPath(path), { force: true });
  } catch (error) {
    throw writeFailed(path, error);
  }
  writeFileAtomic(path, serializeCache(cache, format), 0o644, durable);
}

/**
 * A small state file's text: only a regular file is read, and only its first bytes. A link a cloned
 * repository committed under the state dir (to /dev/zero, to a FIFO) is no answer, never a hang.
 */
export function readStateText(path: string, maxBytes = 256): string | null {
  try {
    return readHead(path, maxBytes)?.toString('utf8') ?? null;
  } catch {
    return null;
  }
}

/** The format's name, kept beside the cache: a branch with no migration file then still reads its names (§15). */
export const FORMAT_FILE = 'format';

/** Written where the settings look when no file tells (the state dir itself, for every database of the project). */
export function rememberFormat(stateDir: string, format: MigrationFormat): void {
  const path = join(stateDir, FORMAT_FILE);
  if (readStateText(path) === format.name) return;
  writeFileAtomic(path, format.name, 0o644, false);
}

export function removeCacheFile(path: string): void {
  try {
    rmSync(hookCleanMarkerPath(path), { force: true });
    rmSync(path, { force: true });
  } catch (error) {
    throw writeFailed(path, error);
  }
}
