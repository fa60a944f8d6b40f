/**
 * Applies pending up migrations into golang-migrate's table format, capturing each one's down SQL with
 * its version. A file that can run in a transaction runs in one with its version and down SQL (a crash
 * leaves the previous version, clean); one that cannot gets golang-migrate's dirty-marker protocol.
 * A failing up leaves the database dirty at that version, as golang-migrate does.
 */
import { DbguardError } from '../core/errors.js';
import { requiresNoTransaction, splitSqlStatements } from '../core/sql.js';
import type { Reporter } from '../engine/events.js';
import { inTransaction, type PgClient } from './client.js';
import { ensureSchemaMigrationsTable, schemaVersionStatements, writeSchemaVersion } from './schema-migrations.js';
import { ensureTrackingTable, upsertTracked, upsertTrackedStatement } from './tracking.js';
import type { AppliedStep } from './rollback-executor.js';

export interface UpMigration {
  readonly version: bigint;
  readonly filename: string;
  readonly upSql: string;
  readonly upSha256: string;
  readonly downSql: string | null;
}

export async function applyUpMigrations(client: PgClient, migrations: readonly UpMigration[], report: Reporter): Promise<AppliedStep[]> {
  await ensureSchemaMigrationsTable(client);
  await ensureTrackingTable(client);
  const applied: AppliedStep[] = [];
  for (const [index, migration] of migrations.entries()) {
    report({ type: 'step-start', version: migration.version, filename: migration.filename, index, total: migrations.length });
    const started = performance.now();
    const row = { version: migration.version, filename: migration.filename, downSql: migration.downSql, upSha256: migration.upSha256, source: 'migrate' };
    try {
      if (requiresNoTransaction(migration.upSql)) {
        // golang-migrate's protocol: dirty marker, the file statement by statement, clean marker.
        await writeSchemaVersion(client, migration.version, true);
        for (const statement of splitSqlStatements(migration.upSql)) await client.query(statement);
        await inTransaction(client, () => upsertTracked(client, [row]).then(() => writeSchemaVersion(client, migration.version, false)));
      } else {
        // The file, its version and its down SQL in one transaction and one round trip: all or nothing.
        // The newline ends a trailing "--" comment in the file before our statements follow it.
        const batch = `BEGIN;\n${migration.upSql}\n;\n${schemaVersionStatements(migration.version, false)}\n${upsertTrackedStatement(client, row)}\nCOMMIT;`;
        await client.query(batch).catch(async (error: unknown) => {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        });
      }
    } catch (error) {
      const message = (error as Error).message;
      report({ type: 'step-failed', version: migration.version, filename: migration.filename, message });
      // As golang-migrate leaves it: dirty at the failing version, for a person to look at.
      await writeSchemaVersion(client, migration.version, true).catch(() => undefined);
      throw new DbguardError('MIGRATION_FAILED', `applying ${migration.filename} failed: ${message}; the database is dirty at version ${migration.version}`, {
        hint: `fix ${migration.filename}, then run dbguard reset (or repair the database by hand and clear the dirty flag)`,
        details: { version: migration.version.toString(), applied: applied.map((a) => a.version.toString()), sqlState: (error as { code?: string }).code },
        cause: error,
      });
    }
    const ms = performance.now() - started;
    applied.push({ version: migration.version, filename: migration.filename, ms });
    report({ type: 'step-done', version: migration.version, filename: migration.filename, ms });
  }
  return applied;
}
