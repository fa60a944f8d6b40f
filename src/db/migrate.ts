/**
 * Applies pending up migrations into golang-migrate's table format, capturing each one's down SQL with
 * its version. A file that can run in a transaction runs in one with its version and down SQL (a crash
 * leaves the previous version, clean); one that cannot gets golang-migrate's dirty-marker protocol.
 * A failing transactional up leaves the database clean at the previous version (nothing of it was
 * applied); a failing non-transactional one leaves it dirty at that version, as golang-migrate does.
 */
import { DbguardError } from '../core/errors.js';
import { outsideCause } from '../core/failure-cause.js';
import { ACTIVE_SQL_TRANSACTION, outsideTransaction, requiresNoTransaction } from '../core/sql.js';
import type { Reporter } from '../core/events.js';
import { inTransaction, type PgClient } from './client.js';
import { appliedStatements, ensureSchemaMigrationsTable, markDirty } from './schema-migrations.js';
import { keepsDirtyFlag, type MigrationFormat } from '../core/format.js';
import { ensureTrackingTable, upsertTracked, upsertTrackedStatement } from './tracking.js';
import { runSteps, type AppliedStep } from './steps.js';
import { restoreStash, stashedUnder } from './stash-restore.js';
import { beginStepStatement, END_STEP_STATEMENT, forgetUps, upStepStatement } from './schema-events.js';
import type { StashRestore } from '../core/stash.js';

export interface UpMigration {
  readonly version: bigint;
  readonly filename: string;
  readonly upSql: string;
  readonly upSha256: string;
  readonly downSql: string | null;
  /**
   * What schema_migrations holds after it: its own version, or — for an out-of-order migration below
   * the applied top (§10) — the top, which stays.
   */
  readonly recordAs?: bigint;
}

/** Stash entries to put back as their migrations are applied again (§13), and what was put back. */
export interface StashRestoring {
  readonly keys: ReadonlySet<string>;
  /** Whether the up file on disk at a version has this sha256 (a stash kept for another is a renumbered migration's). */
  readonly sameUpOnDisk: (version: bigint, upSha256: string) => boolean;
  readonly restored: StashRestore[];
}

/** `before`: the database's version when the run started (what a failed first step leaves). */
export async function applyUpMigrations(
  client: PgClient, format: MigrationFormat, migrations: readonly UpMigration[], report: Reporter, before: bigint | null = null, stash: StashRestoring | null = null,
  /** The per-migration record's event triggers are on (§11): name each step for them. */
  recordSteps = false,
): Promise<AppliedStep[]> {
  await ensureSchemaMigrationsTable(client, format);
  await ensureTrackingTable(client);
  if (recordSteps) await forgetUps(client, migrations.map((m) => m.version));
  // Whether the step being run had to leave the transaction (its failure then leaves the database dirty).
  let outside = false;
  return runSteps(migrations, report, {
    async run(migration) {
      const row = { version: migration.version, filename: migration.filename, downSql: migration.downSql, upSha256: migration.upSha256, source: 'migrate' };
      const recorded = migration.recordAs ?? migration.version;
      outside = requiresNoTransaction(migration.upSql, format);
      const stashedAt = stash === null ? [] : stashedUnder(stash.keys, migration.version, migration.upSha256, stash.sameUpOnDisk);
      const restoring = stash !== null && stashedAt.length > 0;
      if (!outside) {
        // The file, its version and its down SQL in one transaction and one round trip: all or nothing.
        // The newline ends a trailing "--" comment in the file before our statements follow it. Rows a
        // rollback kept for this migration go back before the COMMIT, in the same transaction. Only the
        // run's last COMMIT waits for the WAL flush, which makes every earlier one durable with it: one
        // flush per run, as a tool that applies a run in one transaction pays (node-pg-migrate), and a
        // server crash meanwhile loses whole migrations with their rows, never half of one.
        const batch = `BEGIN;\n${migration === migrations.at(-1) ? '' : 'SET LOCAL synchronous_commit = off;\n'}${recordSteps ? upStepStatement(migration.version) : ''}\n${migration.upSql}\n;\n${appliedStatements(format, migration, recorded)}\n${upsertTrackedStatement(client, row)}${restoring ? '' : '\nCOMMIT;'}`;
        const failed = await client.query(batch).then(async () => {
          if (!restoring) return null;
          try {
            stash.restored.push(...(await restoreStash(client, migration.version, migration.upSha256, stashedAt)));
            await client.query('COMMIT');
            return null;
          } catch (error) {
            await client.query('ROLLBACK').catch(() => undefined);
            return error;
          }
        }, async (error: unknown) => {
          await client.query('ROLLBACK').catch(() => undefined);
          return error;
        });
        // Not marked and not recognised, but it cannot run in a transaction block: golang-migrate's path.
        if (failed === null) return;
        if ((failed as { code?: string }).code !== ACTIVE_SQL_TRANSACTION) throw failed;
        outside = true;
      }
      // golang-migrate's protocol: dirty marker, the file statement by statement, clean marker (a tool
      // without the flag records the apply once it ran, as it does itself).
      await markDirty(client, format, recorded);
      if (recordSteps) await client.query(beginStepStatement(migration.version, 'up', false));
      for (const statement of outsideTransaction(migration.upSql, format)) await client.query(statement);
      if (recordSteps) await client.query(END_STEP_STATEMENT);
      await inTransaction(client, async () => {
        await upsertTracked(client, [row]);
        await client.query(appliedStatements(format, migration, recorded));
        if (restoring) stash.restored.push(...(await restoreStash(client, migration.version, migration.upSha256, stashedAt)));
      });
    },
    failure(migration, error, applied) {
      const message = (error as Error).message;
      const previous = applied.at(-1) === undefined ? before : (migrations[applied.length - 1]?.recordAs ?? applied.at(-1)?.version ?? before);
      const details = { version: migration.version.toString(), applied: applied.map((a) => a.version.toString()), sqlState: (error as { code?: string }).code };
      // Not the file's fault (issue 25.9): a full disk, a lost connection. Said as what it is, with what to do first.
      const cause = outsideCause(error);
      const code = cause?.code ?? 'MIGRATION_FAILED';
      const first = cause ? `${cause.first}; ` : '';
      if (!outside && cause) {
        return new DbguardError(cause.code, `applying ${migration.filename} stopped: ${cause.what}; nothing of it was applied, the database is at version ${previous ?? 'none'} (clean)`, {
          hint: `${cause.first}, then dbguard migrate continues from where it stopped`, details: { ...details, dirty: false }, cause: error,
        });
      }
      if (!outside) {
        // Its transaction rolled back: nothing of it was applied, so the database is clean where it was (§4).
        return new DbguardError('MIGRATION_FAILED', `applying ${migration.filename} failed: ${message}; nothing of it was applied, the database is at version ${previous ?? 'none'} (clean)`, {
          hint: `${madeOutside(details.sqlState, migration.filename) ?? `fix ${migration.filename}`}, then run dbguard migrate`, details: { ...details, dirty: false }, cause: error,
        });
      }
      if (!keepsDirtyFlag(format)) {
        // The tool keeps no dirty flag: what ran stays, unrecorded, as the tool itself would leave it.
        return new DbguardError(code, `applying ${migration.filename} failed: ${message}; it ran outside a transaction, so some of it may have run, and ${format.trackingTable} does not list it`, {
          hint: `${first}undo what ${migration.filename} left half done, fix it, then dbguard migrate`, details: { ...details, dirty: false }, cause: error,
        });
      }
      // Outside a transaction some statements may have run: it stays dirty (marked before it ran), as golang-migrate leaves it.
      return new DbguardError(code, `applying ${migration.filename} failed: ${message}; it ran outside a transaction, so the database is dirty at version ${migration.recordAs ?? migration.version}`, {
        hint: `${first}repair what ${migration.filename} left half done, then dbguard force ${migration.recordAs ?? migration.version} (or dbguard force ${previous ?? 'none'} if you undid it)`,
        details: { ...details, dirty: true }, cause: error,
      });
    },
  });
}

/** SQLSTATEs of an object that already exists (duplicate table, object, schema, column, function). */
const ALREADY_THERE = new Set(['42P07', '42710', '42P06', '42701', '42723']);

/** An up that met something of its names already there: it may not be the file's fault (made by hand). */
function madeOutside(sqlState: string | undefined, file: string): string | null {
  if (sqlState === undefined || !ALREADY_THERE.has(sqlState)) return null;
  return `something of that name was made outside ${file} (by hand, or by another tool): drop or rename it if it is not what ${file} makes, otherwise fix ${file}`;
}
