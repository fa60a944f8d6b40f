/**
 * Reset (DESIGN §6, §12): a snapshot first (what `dbguard undo` brings back), then the database is
 * emptied — every user schema of an external one dropped in one transaction; the embedded one dropped
 * and created again, which keeps its server, and with it the snapshots. The cache goes too.
 */
import type { Settings } from '../core/settings.js';
import type { Snapshot } from '../core/snapshot.js';
import { removeCacheFile } from '../fs/state.js';
import { inTransaction, quoteIdentifier, userSchemas } from '../db/client.js';
import { recreateEmpty } from '../db/snapshot.js';
import { snapshotBefore } from './snapshot.js';
import { withSession } from './session.js';
import { DbguardError, isDbguardError } from '../core/errors.js';
import { databaseRef } from './identity.js';

export interface ResetResult {
  readonly kind: 'embedded' | 'external';
  readonly removed: string[];
  readonly snapshot: Snapshot | null;
}

export async function resetDatabase(settings: Settings, options: { readonly noSnapshot?: boolean; readonly disconnect?: boolean } = {}): Promise<ResetResult> {
  return resetThroughServer(settings, options).catch((error: unknown) => {
    // Reset works through the server (it snapshots first, and keeps the snapshots). A cluster that
    // cannot start is not removed on our own: the cause may be passing (a port, a stale process).
    if (settings.database.kind !== 'embedded' || !isDbguardError(error) || error.code !== 'EMBEDDED_START_FAILED') throw error;
    const { dataDir } = databaseRef(settings).paths;
    throw new DbguardError('EMBEDDED_START_FAILED', `cannot reset: ${error.message}; nothing was changed`, {
      hint: `fix what keeps it from starting (${error.hint ?? 'see its log'}); to start over instead, move ${dataDir} away (its snapshots go with it)`, cause: error,
    });
  });
}

async function resetThroughServer(settings: Settings, options: { readonly noSnapshot?: boolean; readonly disconnect?: boolean }): Promise<ResetResult> {
  return withSession(settings, { destructive: true }, async (session) => {
    const snapshot = await snapshotBefore(session, settings, 'reset', { skip: options.noSnapshot ?? false, disconnect: options.disconnect ?? false });
    let removed: string[];
    if (session.ref.kind === 'embedded') {
      const database = session.target.database;
      await session.detached((maintenance) => recreateEmpty(maintenance, database));
      removed = [`database ${database}`];
    } else {
      // Every schema the migrations made goes, not only public (a next migrate's CREATE SCHEMA app must
      // work, §6): every schema but the system's, all in one transaction.
      const dropped = await userSchemas(session.client);
      await inTransaction(session.client, async () => {
        for (const name of dropped) await session.client.query(`DROP SCHEMA ${quoteIdentifier(name)} CASCADE`);
        await session.client.query('CREATE SCHEMA public');
      });
      removed = dropped.map((name) => `schema ${name}`);
    }
    removeCacheFile(session.ref.paths.cacheFile);
    return { kind: session.ref.kind, removed: [...removed, session.ref.paths.cacheFile], snapshot };
  });
}
