/**
 * Where dbguard keeps its state for a database (DESIGN §1, §6): pure path arithmetic, shared by the
 * file adapter and the embedded server.
 */
import { join } from 'node:path';

export interface StatePaths {
  readonly stateDir: string;
  readonly cacheFile: string;
  /** Embedded only: the Postgres data directory, its password file and the lock file. */
  readonly dataDir: string;
  readonly passwordFile: string;
  readonly lockFile: string;
}

export const EMBEDDED_IDENTITY = 'embedded';

/** A short stable hash for folder and database names (FNV-1a, 8 hex digits): node:crypto costs the hook several ms to load. */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** External databases get one folder each, keyed by host/port/dbname (never by user or password). */
export function statePathsFor(stateDir: string, identity: string): StatePaths {
  const base = identity.startsWith(EMBEDDED_IDENTITY)
    ? stateDir
    : join(stateDir, 'external', `${identity.replace(/^postgres:\/\//, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)}-${shortHash(identity)}`);
  return {
    stateDir,
    cacheFile: join(base, 'migration_cache.json'),
    dataDir: join(stateDir, 'postgres'),
    passwordFile: join(stateDir, 'postgres.password'),
    lockFile: join(base, 'dbguard.lock'),
  };
}

