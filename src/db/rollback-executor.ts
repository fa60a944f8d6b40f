/**
 * Applies a rollback plan (DESIGN §4): one transaction per step — down SQL, schema_migrations to the
 * step's "after" version, tracking row deleted. A failing step rolls back its own transaction and stops
 * the run, so the database stays at the last good version. SQL that cannot run in a transaction takes
 * golang-migrate's path: mark dirty, run it, mark clean — a crash in between is visible, never silent.
 */
import { DbguardError, isDbguardError } from '../core/errors.js';
import { outsideCause } from '../core/failure-cause.js';
import type { ReplayStep, RollbackStep } from '../core/plan.js';
import { ACTIVE_SQL_TRANSACTION, outsideTransaction } from '../core/sql.js';
import type { Reporter } from '../core/events.js';
import { inTransaction, type PgClient } from './client.js';
import { runSteps, type AppliedStep } from './steps.js';
import { appliedStatements, ensureSchemaMigrationsTable, markDirty, unappliedStatements } from './schema-migrations.js';
import { deleteTracked, deleteTrackedStatement, ensureTrackingTable, upsertTracked } from './tracking.js';
import { runDownKeepingRows, type StashContext } from './stash.js';
import { restoreStash } from './stash-restore.js';
import { beginStepStatement, END_STEP_STATEMENT } from './schema-events.js';
import type { StashRestore } from '../core/stash.js';
import { keepsDirtyFlag, type MigrationFormat } from '../core/format.js';

export type { AppliedStep };

async function finishStep(client: PgClient, format: MigrationFormat, step: RollbackStep): Promise<void> {
  await client.query(unappliedStatements(format, step, step.after));
  await deleteTracked(client, [step.version]);
}

/** §3: the out-of-order down failed (a dependency): rewind the on-disk ones above, roll it back, replay them. */
/** The rows a replay-down keeps come back with its replay-up (the same migration, §13). */
export async function replay(client: PgClient, format: MigrationFormat, steps: readonly ReplayStep[], stash: StashContext | null = null, record = false): Promise<StashRestore[]> {
  const restored: StashRestore[] = [];
  for (const step of steps) {
    await inTransaction(client, async () => {
      if (record) await client.query(beginStepStatement(step.version, step.kind === 'replay-up' ? 'up' : 'down'));
      if (step.kind === 'replay-up') {
        await client.query(step.sql);
        if (stash) restored.push(...(await restoreStash(client, step.version, step.keptUnder ?? step.upSha256 ?? null)));
      } else {
        await runDownKeepingRows(client, step.version, step.sql, stash);
      }
      await client.query(step.kind === 'replay-up' ? appliedStatements(format, step, step.after ?? step.version) : unappliedStatements(format, step, step.after));
      if (step.kind === 'replay-up') {
        await upsertTracked(client, [{ version: step.version, filename: step.filename, downSql: step.downSql ?? null, upSha256: step.upSha256 ?? null, source: 'replay' }]);
      } else {
        await deleteTracked(client, [step.version]);
      }
    });
  }
  // The catalog changed under ups the stash context did not follow: read it afresh next time.
  if (stash) stash.catalog = null;
  return restored;
}

/**
 * One step's transaction: its record marker, the down (keeping the rows when the stash is on), the
 * version and the tracking row. Without the stash it is one round trip, as migrate's ups are.
 */
async function downInTransaction(client: PgClient, format: MigrationFormat, step: RollbackStep, stash: StashContext | null, record: boolean): Promise<void> {
  const marker = record ? beginStepStatement(step.version, 'down') : '';
  const finish = `${unappliedStatements(format, step, step.after)}\n${deleteTrackedStatement(step.version)}`;
  if (stash === null || step.kind === 'noop') {
    // A no-op step (a data-only migration) has nothing to undo in the schema; the data it changed is kept.
    // The newline ends a trailing "--" comment in the down SQL before our statements follow it.
    const down = step.kind === 'noop' ? '' : `${step.downSql}\n;`;
    await client.query(`BEGIN;\n${marker}\n${down}\n${finish}\nCOMMIT;`).catch(async (error: unknown) => {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    });
    return;
  }
  await inTransaction(client, async () => {
    if (marker) await client.query(marker);
    await runDownKeepingRows(client, step.version, step.downSql, stash, step.upSha256);
    await client.query(finish);
  });
}

async function runStep(client: PgClient, format: MigrationFormat, step: RollbackStep, report: Reporter, stash: StashContext | null, record: boolean): Promise<void> {
  if (step.fallback && step.transactional) {
    try {
      await downInTransaction(client, format, step, stash, record);
    } catch (error) {
      // A lock or time limit, a full disk or a lost connection is not a dependency: stop as any failed step does.
      if (boundHint((error as { code?: string }).code) !== null || outsideCause(error) !== null) throw error;
      await replay(client, format, step.fallback, stash, record);
      const replayed = step.fallback.filter((s) => s.kind === 'replay-up').map((s) => s.version);
      report({ type: 'step-replayed', version: step.version, filename: step.filename, message: (error as Error).message, replayed });
    }
    return;
  }
  if (step.transactional || step.kind === 'noop') {
    try {
      await downInTransaction(client, format, step, stash, record);
      return;
    } catch (error) {
      // Not marked and not recognised, but it cannot run in a transaction block: golang-migrate's path.
      if ((error as { code?: string }).code !== ACTIVE_SQL_TRANSACTION || step.kind === 'noop') throw error;
    }
  }
  // Outside a transaction there is no savepoint to look before dropping: rows are not kept here.
  if (stash) stash.catalog = null;
  await markDirty(client, format, step.after);
  if (record) await client.query(beginStepStatement(step.version, 'down', false));
  for (const statement of outsideTransaction(step.downSql, format)) await client.query(statement);
  if (record) await client.query(END_STEP_STATEMENT);
  await inTransaction(client, () => finishStep(client, format, step));
}

/** The other sessions of this database that hold table locks (after a lock timeout), as "my-app (pid 42)". */
async function lockHolders(client: PgClient): Promise<string[]> {
  const rows = await client.query<{ who: string }>(
    `SELECT DISTINCT COALESCE(NULLIF(a.application_name, ''), 'a client') || ' (pid ' || a.pid || CASE WHEN a.state LIKE 'idle in transaction%' THEN ', idle in a transaction' ELSE '' END || ')' AS who
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.granted AND l.locktype = 'relation' AND a.datname = current_database() AND a.pid <> pg_backend_pid()`,
  ).catch(() => ({ rows: [] as Array<{ who: string }> }));
  return rows.rows.map((r) => r.who);
}

/** Why a statement was cancelled by the session's bounds (DESIGN §4), in words a user can act on. */
function boundHint(sqlState: string | undefined): string | null {
  if (sqlState === '55P03') return 'another session holds a lock on what this step changes (lock_timeout): end that session\'s open transaction (your app, psql)';
  if (sqlState === '57014') return 'the step ran past its time limit (statement_timeout or the hook\'s deadline)';
  return null;
}

export async function applyRollbackSteps(
  client: PgClient, format: MigrationFormat, steps: readonly RollbackStep[], report: Reporter,
  options: {
    readonly deadline?: number; readonly afterEach?: (step: RollbackStep) => Promise<void>; readonly stash?: StashContext | null;
    /** The per-migration record's event triggers are on (§11): name each step for them. */
    readonly recordSteps?: boolean;
    /** The run's facts say both tables are there (the tool's, with a version, and dbguard's, complete): no CREATE … IF NOT EXISTS. */
    readonly tablesReady?: boolean;
  } = {},
): Promise<AppliedStep[]> {
  if (!options.tablesReady) {
    await ensureSchemaMigrationsTable(client, format);
    await ensureTrackingTable(client);
  }
  const versionAfter = (applied: readonly AppliedStep[], step: RollbackStep) => (applied.length > 0 ? steps[applied.length - 1]?.after ?? null : step.version);
  return runSteps(steps, report, {
    beforeEach(step, applied) {
      if (options.deadline === undefined || Date.now() < options.deadline || applied.length === 0) return;
      const at = versionAfter(applied, step);
      throw new DbguardError('DEADLINE', `stopped after ${applied.length} of ${steps.length} steps: the time limit ran out; the database is at version ${at ?? 'none'} (clean)`, {
        hint: 'dbguard rollback   (finishes the rest)',
        details: { completed: applied.map((a) => a.version.toString()), databaseVersion: at === null ? null : at.toString() },
      });
    },
    run: (step) => runStep(client, format, step, report, options.stash ?? null, options.recordSteps ?? false).catch(async (error: unknown) => {
      // §14: a step the app's locks stopped names who holds them.
      if ((error as { code?: string }).code === '55P03') Object.assign(error as object, { holders: await lockHolders(client) });
      throw error;
    }),
    ...(options.afterEach ? { afterEach: options.afterEach } : {}),
    // Said when it runs as the plan said it (issue 26.6): a no-op step ran no SQL.
    noteOf: (step) => (step.kind === 'noop' ? `no-op${step.note ? `: ${step.note}` : ''}` : step.note),
    failure(step, error, applied) {
      // Already says what happened and what to do (the stash's bound).
      if (isDbguardError(error)) return error;
      const lastGood = versionAfter(applied, step);
      const sqlState = (error as { code?: string }).code;
      const holders = (error as { holders?: string[] }).holders ?? [];
      const bound = boundHint(sqlState)?.replace('end that session', holders.length ? `held by ${holders.join(', ')}: end that session` : 'end that session') ?? null;
      const at = `the database is at version ${lastGood ?? 'none'}`;
      const dirtyHint = keepsDirtyFlag(format) ? 'the database is marked dirty; repair it by hand, then dbguard force <version>'
        : `some of it may have run outside a transaction and ${format.trackingTable} still lists it; undo what it left by hand, then dbguard rollback`;
      const details = {
        version: step.version.toString(), completed: applied.map((a) => a.version.toString()),
        databaseVersion: lastGood === null ? null : lastGood.toString(), dirty: !step.transactional && keepsDirtyFlag(format), sqlState,
      };
      // Not the down SQL's fault (issue 25.9): a full disk, a lost connection. Its transaction went back.
      const outside = bound ? null : outsideCause(error);
      if (outside) {
        return new DbguardError(outside.code, `rolling back ${step.filename} stopped: ${outside.what}${step.transactional ? `; ${at} (its transaction was undone)` : ''}`, {
          hint: step.transactional ? `${outside.first}, then dbguard rollback continues from where it stopped (${at})` : `${outside.first}; ${dirtyHint}`,
          details, cause: error,
        });
      }
      return new DbguardError('STEP_FAILED', `rolling back ${step.filename} failed: ${(error as Error).message}${bound && step.transactional ? `; ${at} (clean)` : ''}`, {
        hint: !step.transactional ? dirtyHint
          : bound ? `${bound}, then run dbguard rollback` : `fix the down SQL of ${step.filename}, then run dbguard rollback again (${at})`,
        details, cause: error,
      });
    },
  });
}
