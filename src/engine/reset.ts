/**
 * Reset (DESIGN §6): the external database loses `public` and `_dbguard` (public is recreated); the
 * embedded one loses its data dir. The cache goes too. Confirmation is the command's job, before this.
 */
import { rmSync } from 'node:fs';
import type { Settings } from '../core/settings.js';
import { EmbeddedServer } from '../embedded/server.js';
import { absoluteStateDir } from '../fs/config.js';
import { acquireLockFile, lockTimeoutMs } from '../fs/lock-file.js';
import { removeCacheFile } from '../fs/state.js';
import { TRACKING_SCHEMA } from '../db/tracking.js';
import { databaseRef } from './identity.js';
import { withSession } from './session.js';

export async function resetDatabase(settings: Settings): Promise<{ kind: 'embedded' | 'external'; removed: string[] }> {
  const ref = databaseRef(settings);
  if (ref.kind === 'external') {
    await withSession(settings, { destructive: true }, async (session) => {
      // One multi-statement query runs as one implicit transaction: all of it or none.
      await session.client.query(`DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS ${TRACKING_SCHEMA} CASCADE; CREATE SCHEMA public`);
    });
    removeCacheFile(ref.paths.cacheFile);
    return { kind: 'external', removed: ['schema public', `schema ${TRACKING_SCHEMA}`, ref.paths.cacheFile] };
  }
  if (settings.database.kind !== 'embedded') throw new Error('unreachable');
  const lock = await acquireLockFile(ref.paths.lockFile, lockTimeoutMs());
  try {
    const server = new EmbeddedServer({ stateDir: absoluteStateDir(settings), port: settings.database.port, database: settings.database.database });
    await server.stop();
    rmSync(ref.paths.dataDir, { recursive: true, force: true });
    rmSync(ref.paths.passwordFile, { force: true });
    removeCacheFile(ref.paths.cacheFile);
    return { kind: 'embedded', removed: [ref.paths.dataDir, ref.paths.cacheFile] };
  } finally {
    lock.release();
  }
}
