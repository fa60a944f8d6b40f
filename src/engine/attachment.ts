/**
 * A session's connection to its database and the locks it holds (DESIGN §4), which `detached` gives up
 * and takes again for work that needs the database free (CREATE DATABASE … TEMPLATE, a swap): split
 * from ./session.ts, which finds the server and owns the session's life.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ConnectionTarget } from '../core/connection.js';
import { isDbguardError } from '../core/errors.js';
import type { Reporter } from '../core/events.js';
import type { MigrationFormat } from '../core/format.js';
import type { Settings } from '../core/settings.js';
import { acquireAdvisoryLock, acquireGateLock } from '../db/advisory-lock.js';
import { connect, type PgClient, type SessionLimits } from '../db/client.js';
import { formatOf } from '../formats/index.js';
import { lockTimeoutMs } from '../fs/lock-file.js';
import type { DbSession } from './db-session.js';
import { databaseRef, type DatabaseRef } from './identity.js';

/**
 * A marker beside the cache says the database is closed to connections by dbguard itself, so only a
 * database dbguard closed (and a kill kept closed) is opened again by the next session (Attachment.attach).
 */
export function closedMarkerPath(session: Pick<DbSession, 'ref'>): string {
  return join(dirname(session.ref.paths.cacheFile), 'database-closed');
}

/** A database on the same server to run CREATE/ALTER/DROP DATABASE from. */
export function maintenanceTarget(target: ConnectionTarget): ConnectionTarget {
  return { ...target, database: target.database === 'postgres' ? 'template1' : 'postgres' };
}

/** The session's connection and locks, which `detached` gives up and takes again. */
export class Attachment {
  client!: PgClient;
  /** Told once, at the first attach (the locks it takes are the format's). */
  format: MigrationFormat | undefined;
  private unlock: () => Promise<void> = async () => undefined;
  /** A changing session's connection to the maintenance database, holding the gate lock (null: none could be made). */
  private gate: PgClient | null | undefined;

  /** `gated`: an external database; the embedded one's lock file already keeps a second run off it. */
  constructor(private readonly settings: Settings, private readonly target: ConnectionTarget, private readonly options: SessionOptions, private readonly gated: boolean) {}

  private async openGate(): Promise<void> {
    if (this.gate !== undefined || !this.options.destructive || !this.gated) return;
    // A server that lets us into neither maintenance database: go on without the gate (only a
    // snapshot while another dbguard run waits is affected, and it says so).
    const gate = await connect(maintenanceTarget(this.target), sessionLimits(this.settings, this.options.deadline)).catch(() => null);
    if (gate !== null) {
      await acquireGateLock(gate, this.target.database, this.options.lockWaitMs ?? lockTimeoutMs()).catch(async (error: unknown) => {
        await gate.end().catch(() => undefined);
        throw error;
      });
    }
    this.gate = gate;
  }

  async attach(): Promise<void> {
    await this.openGate();
    const limits = sessionLimits(this.settings, this.options.deadline);
    const client = await connect(this.target, limits).catch(async (error: unknown) => {
      // A run killed while it had the database to itself (--disconnect) left it closed to connections.
      if (!isDbguardError(error) || !/not currently accepting connections/.test(error.message)) throw error;
      if (!(await reopenIfWeClosed(databaseRef(this.settings), this.target, limits))) throw error;
      return connect(this.target, limits);
    });
    const format = this.format ?? await sessionFormat(this.settings, client).catch(async (error: unknown) => {
      await client.end().catch(() => undefined);
      throw error;
    });
    this.format = format;
    this.unlock = await lockIfChanging(client, format, this.options).catch(async (error: unknown) => {
      await client.end().catch(() => undefined);
      throw error;
    });
    this.client = client;
  }

  async detach(): Promise<void> {
    await this.unlock();
    this.unlock = async () => undefined;
    await this.client?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.detach();
    await this.gate?.end().catch(() => undefined);
    this.gate = undefined;
  }

  async detached<T>(work: (maintenance: PgClient) => Promise<T>): Promise<T> {
    await this.detach();
    try {
      if (this.gate) return await work(this.gate);
      const maintenance = await connect(maintenanceTarget(this.target), sessionLimits(this.settings, this.options.deadline));
      try {
        return await work(maintenance);
      } finally {
        await maintenance.end().catch(() => undefined);
      }
    } finally {
      await this.attach();
    }
  }
}

export interface SessionOptions {
  /**
   * The session changes the database or dbguard's records in it (rollback, reset, migrate, capture,
   * force): refused on non-local hosts unless allowRemote, and it holds dbguard's and golang-migrate's
   * advisory locks from open to close (DESIGN §4) — the one place they are taken.
   */
  readonly destructive: boolean;
  /** How long to wait for those locks; DBGUARD_LOCK_TIMEOUT_MS (10 s) by default. */
  readonly lockWaitMs?: number;
  readonly report?: Reporter;
  /** The hook's deadline (epoch ms): every statement is bounded by what is left of it. */
  readonly deadline?: number;
  /**
   * May create the embedded cluster when there is none (migrate, the demo). Everything else only reads
   * or changes what exists: a status in a folder with no project must not leave a 39 MB cluster behind.
   */
  readonly create?: boolean;
  /**
   * The caller handles SIGINT and SIGTERM itself (dbguard run passes them to its app while it runs): the
   * session does not end the process on them.
   */
  readonly callerHandlesSignals?: boolean;
  /**
   * §17: runs once the server is up and before the session connects, with the server's address (a
   * linked worktree's database is copied here, with the embedded server's lock held so that no other
   * worktree starts, stops or copies meanwhile).
   */
  readonly prepare?: (server: ConnectionTarget) => Promise<void>;
}

/** lock_timeout and statement_timeout for a session (DESIGN §4): configured, and capped by a deadline. */
export function sessionLimits(settings: Settings, deadline: number | undefined): SessionLimits {
  const { lockMs, statementMs } = settings.timeouts;
  if (deadline === undefined) return { lockTimeoutMs: lockMs, statementTimeoutMs: statementMs };
  const left = Math.max(1, deadline - Date.now());
  const cap = (ms: number) => (ms === 0 ? left : Math.min(ms, left));
  return { lockTimeoutMs: cap(lockMs), statementTimeoutMs: cap(statementMs) };
}

/**
 * Opens the database again when dbguard itself closed it to connections for a copy (--disconnect) and a
 * kill or Ctrl-C kept it closed. Only with dbguard's marker: a database closed by hand stays closed.
 * True when it had to be opened.
 */
export async function reopenIfWeClosed(ref: DatabaseRef, target: ConnectionTarget, limits: SessionLimits, timeoutMs?: number): Promise<boolean> {
  const marker = closedMarkerPath({ ref });
  if (!existsSync(marker)) return false;
  const maintenance = await connect(maintenanceTarget(target), limits, timeoutMs);
  try {
    const { reopenIfClosed } = await import('../db/snapshot.js');
    const reopened = await reopenIfClosed(maintenance, target.database);
    rmSync(marker, { force: true });
    return reopened;
  } finally {
    await maintenance.end().catch(() => undefined);
  }
}

async function lockIfChanging(client: PgClient, format: MigrationFormat, options: SessionOptions): Promise<() => Promise<void>> {
  if (!options.destructive) return async () => undefined;
  return acquireAdvisoryLock(client, format, options.lockWaitMs ?? lockTimeoutMs());
}

/** The format a session speaks: the settings', or the tracking table's when nothing named or told one (§15). */
async function sessionFormat(settings: Settings, client: PgClient): Promise<MigrationFormat> {
  if (settings.formatSource !== 'default') return formatOf(settings);
  const { formatToldByTable } = await import('../db/schema-migrations.js');
  return formatToldByTable(client, formatOf(settings));
}

