/** Which database the settings point at, and where its state lives: no connection, no heavy imports. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { databaseIdentity, parseDatabaseUrl, type ConnectionTarget } from '../core/connection.js';
import type { Settings, WorktreeTarget } from '../core/settings.js';
import { absoluteStateDir } from '../fs/config.js';
import { statePathsFor, EMBEDDED_IDENTITY, type StatePaths } from '../fs/state.js';

export interface DatabaseRef {
  readonly kind: 'embedded' | 'external';
  readonly identity: string;
  /** The database's name on its server (the URL's, or the embedded one's). */
  readonly database: string;
  readonly paths: StatePaths;
  /** External only. */
  readonly target: ConnectionTarget | undefined;
  /** §17: a linked worktree's own database (copied from the main worktree's), or null. */
  readonly worktree: WorktreeTarget | null;
}

/** Written in a worktree's state dir once its database is copied and in step with its branch (§17). */
export const WORKTREE_DATABASE_FILE = 'worktree-database';

export function databaseRef(settings: Settings): DatabaseRef {
  const stateDir = absoluteStateDir(settings);
  if (settings.database.kind === 'external') {
    const target = parseDatabaseUrl(settings.database.url);
    const identity = databaseIdentity(target);
    return { kind: 'external', identity, database: target.database, paths: statePathsFor(stateDir, identity), target, worktree: settings.worktree };
  }
  const identity = `${EMBEDDED_IDENTITY}:${settings.database.database}`;
  const own = statePathsFor(stateDir, identity);
  // The data dir and its password are the repository's one server's (§17); cache and lock stay this checkout's.
  const server = settings.serverStateDir === null ? own : statePathsFor(settings.serverStateDir, identity);
  return { kind: 'embedded', identity, database: settings.database.database, paths: { ...own, dataDir: server.dataDir, passwordFile: server.passwordFile }, target: undefined, worktree: settings.worktree };
}

/**
 * A database that may hold applied migrations: an external URL, or an initialised embedded data dir (§2);
 * a linked worktree's own database once it was made (its state dir says so).
 */
export function databaseMayExist(ref: DatabaseRef): boolean {
  if (ref.worktree !== null) return existsSync(join(dirname(ref.paths.cacheFile), WORKTREE_DATABASE_FILE));
  return ref.kind === 'external' || existsSync(join(ref.paths.dataDir, 'PG_VERSION'));
}
