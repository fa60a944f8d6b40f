/**
 * Applies pending up migrations the way golang-migrate does (dirty marker, run the file, clean marker;
 * same table format), and captures each migration's down SQL in the same transaction as the clean marker.
 * A failing up leaves the database dirty at that version, as golang-migrate does.
 */
import { DbguardError } from '../core/errors.js';
import { requiresNoTransaction, splitSqlStatements } from '../core/sql.js';
import type { Reporter } from '../engine/events.js';
import type { PgClient } from './client.js';
import { ensureSchemaMigrationsTable, writeSchemaVersion } from './schema-migrations.js';
import { ensureTrackingTable, upsertTracked } from './tracking.js';
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
    await writeSchemaVersion(client, migration.version, true);
    try {
      if (requiresNoTransaction(migration.upSql)) {
        for (const statement of splitSqlStatements(migration.upSql)) await client.query(statement);
      } else {
        await client.query(migration.upSql);
      }
    } catch (error) {
      const message = (error as Error).message;
      report({ type: 'step-failed', version: migration.version, filename: migration.filename, message });
      throw new DbguardError('MIGRATION_FAILED', `applying ${migration.filename} failed: ${message}; the database is dirty at version ${migration.version}`, {
        hint: `fix ${migration.filename}, then run dbguard reset (or repair the database by hand and clear the dirty flag)`,
        details: { version: migration.version.toString(), applied: applied.map((a) => a.version.toString()), sqlState: (error as { code?: string }).code },
        cause: error,
      });
    }
    await client.query('BEGIN');
    try {
      await writeSchemaVersion(client, migration.version, false);
      await upsertTracked(client, [{ version: migration.version, filename: migration.filename, downSql: migration.downSql, upSha256: migration.upSha256, source: 'migrate' }]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    const ms = performance.now() - started;
    applied.push({ version: migration.version, filename: migration.filename, ms });
    report({ type: 'step-done', version: migration.version, filename: migration.filename, ms });
  }
  return applied;
}
