/**
 * Reset (DESIGN §6): the external database loses `public` and `_dbguard` (public is recreated); the
 * embedded one loses its data dir. The cache goes too. Confirmation is the command's job, before this.
 */
import type { Settings } from '../core/settings.js';
import { rmSync } from 'node:fs';
import { embeddedServerFor } from './embedded.js';
import { acquireLockFile, lockTimeoutMs } from '../fs/lock-file.js';
import { removeCacheFile } from '../fs/state.js';
import { inTransaction, quoteIdentifier } from '../db/client.js';
import { databaseRef } from './identity.js';
import { withSession } from './session.js';

export async function resetDatabase(settings: Settings): Promise<{ kind: 'embedded' | 'external'; removed: string[] }> {
  const ref = databaseRef(settings);
  if (ref.kind === 'external') {
    let dropped: string[] = [];
    await withSession(settings, { destructive: true }, async (session) => {
      // Every schema the migrations made goes, not only public (a next migrate's CREATE SCHEMA app must
      // work, §6). Without a schema record, that is every schema but the system's; all in one transaction.
      const schemas = await session.client.query<{ name: string }>(
        "SELECT nspname AS name FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
      );
      dropped = schemas.rows.map((row) => row.name);
      await inTransaction(session.client, async () => {
        for (const name of dropped) await session.client.query(`DROP SCHEMA ${quoteIdentifier(name)} CASCADE`);
        await session.client.query('CREATE SCHEMA public');
      });
    });
    removeCacheFile(ref.paths.cacheFile);
    return { kind: 'external', removed: [...dropped.map((name) => `schema ${name}`), ref.paths.cacheFile] };
  }
  if (settings.database.kind !== 'embedded') throw new Error('unreachable');
  const lock = await acquireLockFile(ref.paths.lockFile, lockTimeoutMs());
  try {
    const server = embeddedServerFor(settings);
    await server.stop();
    rmSync(ref.paths.dataDir, { recursive: true, force: true });
    rmSync(ref.paths.passwordFile, { force: true });
    removeCacheFile(ref.paths.cacheFile);
    return { kind: 'embedded', removed: [ref.paths.dataDir, ref.paths.cacheFile] };
  } finally {
    lock.release();
  }
}
