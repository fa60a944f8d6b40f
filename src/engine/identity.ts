/** Which database the settings point at, and where its state lives: no connection, no heavy imports. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { databaseIdentity, parseDatabaseUrl, type ConnectionTarget } from '../core/connection.js';
import type { Settings } from '../core/settings.js';
import { absoluteStateDir } from '../fs/config.js';
import { statePathsFor, EMBEDDED_IDENTITY, type StatePaths } from '../fs/state.js';

export interface DatabaseRef {
  readonly kind: 'embedded' | 'external';
  readonly identity: string;
  readonly paths: StatePaths;
  /** External only. */
  readonly target: ConnectionTarget | undefined;
}

export function databaseRef(settings: Settings): DatabaseRef {
  const stateDir = absoluteStateDir(settings);
  if (settings.database.kind === 'external') {
    const target = parseDatabaseUrl(settings.database.url);
    const identity = databaseIdentity(target);
    return { kind: 'external', identity, paths: statePathsFor(stateDir, identity), target };
  }
  const identity = `${EMBEDDED_IDENTITY}:${settings.database.database}`;
  return { kind: 'embedded', identity, paths: statePathsFor(stateDir, identity), target: undefined };
}

/** A database that may hold applied migrations: an external URL, or an initialised embedded data dir (§2). */
export function databaseMayExist(ref: DatabaseRef): boolean {
  return ref.kind === 'external' || existsSync(join(ref.paths.dataDir, 'PG_VERSION'));
}
