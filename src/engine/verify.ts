/**
 * `dbguard verify` (DESIGN §11): on a temporary embedded database, from empty, for each migration in
 * order: fingerprint, up, down, fingerprint (must equal the first), up again. Every down
 * that does not restore the schema is reported with what it leaves or loses; a data-only migration
 * with a no-op down passes (its up changed no schema).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertCatalogUsable } from '../core/catalog.js';
import type { Reporter } from '../core/events.js';
import { describeDiff, diffSchemas, isSameSchema, type SchemaDiff } from '../core/schema.js';
import type { Settings } from '../core/settings.js';
import { isBlankSql, requiresNoTransaction, splitSqlStatements } from '../core/sql.js';
import { connect, inTransaction, type PgClient } from '../db/client.js';
import { readFingerprint } from '../db/fingerprint.js';
import { formatOf } from '../formats/index.js';
import type { MigrationFormat } from '../core/format.js';
import { EmbeddedServer } from '../embedded/server.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readUpAndDown } from '../fs/migration-files.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { notRunnableWhy } from '../core/no-down.js';
import { listVersions } from '../core/text.js';

export type VerifyFindingKind = 'no-down-file' | 'up-failed' | 'down-failed' | 'down-does-not-restore';

export interface VerifyFinding {
  readonly version: bigint;
  readonly filename: string;
  readonly kind: VerifyFindingKind;
  readonly message: string;
  readonly diff?: SchemaDiff;
}

export interface VerifyResult {
  readonly checked: number;
  readonly findings: readonly VerifyFinding[];
  /** Migrations dbguard cannot run (goose Go migrations, §18): not checked, and why. */
  readonly skipped: ReadonlyArray<{ version: bigint; filename: string; why: string }>;
  /** The tool writes no down SQL (its words): only the ups were checked, in order from empty. */
  readonly upsOnly?: string;
}

async function runSql(client: PgClient, format: MigrationFormat, sql: string): Promise<void> {
  if (isBlankSql(sql)) return;
  if (requiresNoTransaction(sql, format)) {
    for (const statement of splitSqlStatements(sql)) await client.query(statement);
    return;
  }
  await inTransaction(client, async () => {
    await client.query(sql);
  });
}

/** Closes the connection it handed out last, and connects to a new, empty database of the throwaway cluster (the one before it is dropped). */
type FreshDatabase = () => Promise<PgClient>;

/** A throwaway cluster: its own folder (reachable by the postgres user when we are root), removed after. */
async function withTemporaryDatabase<T>(work: (client: PgClient, fresh: FreshDatabase) => Promise<T>): Promise<T> {
  const stateDir = mkdtempSync(join(tmpdir(), 'dbguard-verify-'));
  chmodSync(stateDir, 0o755);
  const server = new EmbeddedServer({ stateDir, port: undefined, database: 'postgres' });
  // Ctrl-C: the throwaway cluster goes with the command, as it would have at the end.
  const onSignal = () => {
    void server.stop().catch(() => undefined).finally(() => {
      rmSync(stateDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await server.initialise();
    const { port } = await server.start(true);
    const target = server.target(port);
    let client = await connect(target);
    let made = 0;
    const fresh: FreshDatabase = async () => {
      const name = `dbguard_verify_${++made}`;
      await client.end().catch(() => undefined);
      const maintenance = await connect(target);
      try {
        if (made > 1) await maintenance.query(`DROP DATABASE IF EXISTS dbguard_verify_${made - 1}`);
        await maintenance.query(`CREATE DATABASE ${name} TEMPLATE template0`);
      } finally {
        await maintenance.end().catch(() => undefined);
      }
      client = await connect({ ...target, database: name });
      return client;
    };
    try {
      return await work(client, fresh);
    } finally {
      await client.end().catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server.stop().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export async function verifyMigrations(settings: Settings, report: Reporter): Promise<VerifyResult> {
  const dir = absoluteMigrationsDir(settings);
  const format = formatOf(settings);
  const { catalog } = readDiskState(dir, format);
  assertCatalogUsable(catalog, settings.migrationsDir);
  // One dbguard cannot run (a goose Go migration) is not checked, and said so; the others are (§18).
  const why = notRunnableWhy(format.notRunnable?.what ?? 'a migration');
  const skipped = catalog.migrations.filter((m) => m.up !== undefined && !m.runnable).map((m) => ({ version: m.version, filename: m.up as string, why }));
  // A later up that fails may need what a skipped one would have made: its finding says so.
  const skippedBefore = (version: bigint): string => {
    const before = skipped.filter((s) => s.version < version).map((s) => s.version);
    return before.length === 0 ? '' : ` (${listVersions(before)} before it ${before.length === 1 ? 'was' : 'were'} skipped: ${why}; ${before.length === 1 ? 'it' : 'they'} may be what this needs)`;
  };
  // Every file is read before the database starts: bad input is an error, not a finding.
  const migrations = catalog.migrations.filter((m) => m.up !== undefined && m.runnable).map((m) => {
    const { upSql, downSql } = readUpAndDown(format, dir, { up: m.up as string, down: m.down });
    return { version: m.version, filename: m.up as string, up: upSql, down: downSql };
  });
  return withTemporaryDatabase(async (first, fresh) => {
    let client = first;
    const findings: VerifyFinding[] = [];
    // The ups that went in, in order: after a round trip that broke the state, verify builds it again
    // from them in a new database and goes on, so one broken down never hides the ones after it (§16).
    const applied: string[] = [];
    const rebuild = async (): Promise<boolean> => {
      client = await fresh();
      try {
        for (const up of applied) await runSql(client, format, up);
        return true;
      } catch {
        return false;
      }
    };
    for (const [index, migration] of migrations.entries()) {
      const { version, filename } = migration;
      report({ type: 'step-start', version, filename, index, total: migrations.length });
      const started = performance.now();
      const before = await readFingerprint(client, format);
      try {
        await runSql(client, format, migration.up);
      } catch (error) {
        // Later migrations build on this one: nothing after it can be checked.
        findings.push({ version, filename, kind: 'up-failed', message: `the up of ${version} failed: ${(error as Error).message}${skippedBefore(version)}` });
        report({ type: 'step-failed', version, filename, message: (error as Error).message });
        break;
      }
      applied.push(migration.up);
      let broken = false;
      if (migration.down === null) {
        // A tool that writes no down SQL (Drizzle Kit, Prisma Migrate): its ups are what verify checks.
        if (format.noDownSql === undefined) findings.push({ version, filename, kind: 'no-down-file', message: `${version} has no down file` });
      } else {
        let downFailed = false;
        try {
          await runSql(client, format, migration.down);
        } catch (error) {
          downFailed = true;
          // In a transaction the failed down left the up's state; outside one, who knows what it left.
          broken = requiresNoTransaction(migration.down, format);
          findings.push({ version, filename, kind: 'down-failed', message: `the down of ${version} failed: ${(error as Error).message}` });
        }
        if (!downFailed) {
          const diff = diffSchemas(before, await readFingerprint(client, format));
          if (!isSameSchema(diff)) {
            findings.push({ version, filename, kind: 'down-does-not-restore', message: `the down of ${version} does not restore the schema: ${describeDiff(diff)}`, diff });
          }
          try {
            await runSql(client, format, migration.up); // up again: what a rollback and a re-migrate do
          } catch (error) {
            broken = true;
            findings.push({ version, filename, kind: 'up-failed', message: `the up of ${version} failed after its down: ${(error as Error).message}` });
            report({ type: 'step-failed', version, filename, message: (error as Error).message });
          }
        }
      }
      if (broken && !(await rebuild())) {
        findings.push({ version, filename, kind: 'up-failed', message: `the ups up to ${version} did not apply again from empty; nothing after ${version} was checked` });
        break;
      }
      report({ type: 'step-done', version, filename, ms: performance.now() - started });
    }
    return { checked: migrations.length, findings, skipped, ...(format.noDownSql === undefined ? {} : { upsOnly: format.noDownSql }) };
  });
}
