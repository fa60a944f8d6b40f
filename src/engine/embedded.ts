/** The one place an EmbeddedServer is made from settings, with its "ensure the database" step. */
import { DbguardError } from '../core/errors.js';
import type { Settings } from '../core/settings.js';
import { connect, quoteIdentifier } from '../db/client.js';
import { EmbeddedServer } from '../embedded/server.js';
import { absoluteStateDir } from '../fs/config.js';

export function embeddedServerFor(settings: Settings): EmbeddedServer {
  if (settings.database.kind !== 'embedded') {
    throw new DbguardError('USAGE', 'the configured database is external (DBGUARD_DATABASE_URL or database.url); dbguard only starts and stops the embedded one', {
      hint: 'dbguard db status   (shows the external database)',
    });
  }
  const { port, database } = settings.database;
  // A linked worktree's database is a copy made by engine/worktree-database, never an empty one made here.
  const configured = settings.worktree?.source ?? database;
  return new EmbeddedServer({
    // One server per repository (§17): a linked worktree's is the main worktree's.
    stateDir: settings.serverStateDir ?? absoluteStateDir(settings), port, database,
    // The configured database inside the cluster, created on first start (the server itself knows no SQL).
    async ensureDatabase(target) {
      if (configured === target.user) return;
      const client = await connect({ ...target, database: target.user });
      try {
        const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [configured]);
        if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${quoteIdentifier(configured)}`);
      } finally {
        await client.end();
      }
    },
  });
}
