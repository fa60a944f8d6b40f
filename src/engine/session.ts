/**
 * A working connection to the configured database. For the embedded one this takes the data-dir lock
 * file, initialises or starts a temporary server when none runs, and stops what it started on close.
 */
import { formatOf } from '../formats/index.js';
import type { MigrationFormat } from '../core/format.js';
import type { Settings, WorktreeTarget } from '../core/settings.js';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isLocalHost, type ConnectionTarget } from '../core/connection.js';
import { DbguardError, isDbguardError } from '../core/errors.js';
import { acquireAdvisoryLock, acquireGateLock } from '../db/advisory-lock.js';
import { connect, loadDriver, type PgClient, type SessionLimits } from '../db/client.js';
import { embeddedServerFor } from './embedded.js';
import { otherServerUsers, registerSession } from './server-users.js';
import { acquireLockFile, lockTimeoutMs, type HeldLock } from '../fs/lock-file.js';
import { assertStateDirWritable } from '../fs/state.js';
import { databaseRef, WORKTREE_DATABASE_FILE, type DatabaseRef } from './identity.js';
import type { Reporter } from '../core/events.js';

import type { DbSession } from './db-session.js';

export type { DbSession } from './db-session.js';

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
class Attachment {
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

export function assertLocalOrAllowed(settings: Settings, target: ConnectionTarget): void {
  if (!isLocalHost(target.host) && !settings.allowRemote) {
    throw new DbguardError('REMOTE_REFUSED', `refusing to change a database on non-local host "${target.host}"`, {
      hint: 'set "allowRemote": true in dbguard.config.json if this database is really yours to change',
      details: { host: target.host },
    });
  }
}

/**
 * After Ctrl-C (issue 9.19): the step in flight was aborted with its connection, so say where the
 * database is (a fresh connection reads it) and bring the cache in line with it, then what to run.
 */
async function reportInterrupt(ref: DatabaseRef, target: ConnectionTarget, format: MigrationFormat): Promise<void> {
  let where = 'its version could not be read';
  try {
    const client = await connect(target, { lockTimeoutMs: 2_000, statementTimeoutMs: 5_000 }, 3_000);
    try {
      const { readSchemaVersion } = await import('../db/schema-migrations.js');
      const version = await readSchemaVersion(client, format);
      where = `the database is at version ${version?.version ?? 'none'} (${version?.dirty ? 'dirty' : 'clean'})`;
      const { rewriteCache } = await import('./capture.js');
      await rewriteCache({ ref, client, target, format, startedServer: false, close: async () => undefined, detached: () => Promise.reject(new Error('no maintenance connection while interrupted')) });
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch {
    // Nothing more to say than that it was interrupted.
  }
  process.stderr.write(`dbguard: interrupted; the step in progress was undone with its transaction; ${where}\n  next: dbguard status   (then dbguard rollback or dbguard migrate finishes the job)\n`);
}

/**
 * Opens the database again when dbguard itself closed it to connections for a copy (--disconnect) and a
 * kill or Ctrl-C kept it closed. Only with dbguard's marker: a database closed by hand stays closed.
 * True when it had to be opened.
 */
async function reopenIfWeClosed(ref: DatabaseRef, target: ConnectionTarget, limits: SessionLimits, timeoutMs?: number): Promise<boolean> {
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

/**
 * A session whose Ctrl-C (or SIGTERM) handler ran: it ends the connection, reports where the database is
 * and exits 130, so the work's failure that follows (the connection it lost) is not reported.
 */
interface OpenSession extends DbSession {
  readonly interrupted: boolean;
}

/** Ctrl-C: the app (and psql) must not stay locked out until the next dbguard command; else that one opens it. */
const reopenAfterInterrupt = (ref: DatabaseRef, target: ConnectionTarget) =>
  reopenIfWeClosed(ref, target, { lockTimeoutMs: 2_000, statementTimeoutMs: 5_000 }, 3_000).catch(() => false);

async function lockIfChanging(client: PgClient, format: MigrationFormat, options: SessionOptions): Promise<() => Promise<void>> {
  if (!options.destructive) return async () => undefined;
  return acquireAdvisoryLock(client, format, options.lockWaitMs ?? lockTimeoutMs());
}

/** The session over an attachment; closing it stops listening for Ctrl-C, detaches, then `afterClose`. */
function liveSession(
  ref: DatabaseRef, target: ConnectionTarget, startedServer: boolean, format: MigrationFormat, attachment: Attachment, signal: { interrupted: boolean },
  onSignal: () => void, afterClose: () => Promise<void>,
): OpenSession {
  return {
    ref, target, startedServer, format,
    get interrupted() { return signal.interrupted; },
    get client() { return attachment.client; },
    detached: (work) => attachment.detached(work),
    async close() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await attachment.close();
      await afterClose();
    },
  };
}

export function notCreatedError(): DbguardError {
  return new DbguardError('EMBEDDED_NOT_CREATED', 'the embedded database has not been created yet, so nothing was applied to it and there is nothing to act on; nothing was changed', {
    hint: 'dbguard migrate   (creates it and applies your migrations), or dbguard db start for your own migrator',
  });
}

/** The embedded database is configured and its cluster does not exist yet (read-only commands answer from disk). */
export function embeddedNotCreated(settings: Settings): boolean {
  return settings.database.kind === 'embedded' && !embeddedServerFor(settings).isInitialised();
}

/** The format a session speaks: the settings', or the tracking table's when nothing named or told one (§15). */
async function sessionFormat(settings: Settings, client: PgClient): Promise<MigrationFormat> {
  if (settings.formatSource !== 'default') return formatOf(settings);
  const { formatToldByTable } = await import('../db/schema-migrations.js');
  return formatToldByTable(client, formatOf(settings));
}

export async function openSession(settings: Settings, options: SessionOptions): Promise<OpenSession> {
  const signal = { interrupted: false };
  // The settings say which tool's table and files this session speaks (they may come from a test, not loadSettings).
  let format = formatOf(settings);
  const ref = databaseRef(settings);
  // A worktree removed under a running command (git worktree remove --force): re-creating its state dir
  // there would make `git worktree add` at that path fail ("already exists").
  if (!existsSync(settings.root)) throw folderGone(settings.root);
  if (options.destructive) assertStateDirWritable(dirname(ref.paths.cacheFile));
  if (ref.kind === 'external') {
    const target = ref.target as ConnectionTarget;
    if (options.destructive) assertLocalOrAllowed(settings, target);
    const attachment = new Attachment(settings, target, options, true);
    await options.prepare?.(target);
    await attachment.attach().catch(async (error: unknown) => {
      await attachment.close().catch(() => undefined);
      throw error;
    });
    const onSignal = () => {
      signal.interrupted = true;
      void (async () => {
        await attachment.client.end().catch(() => undefined);
        await reopenAfterInterrupt(ref, target);
        if (options.destructive) await reportInterrupt(ref, target, format);
        process.exit(130);
      })();
    };
    if (!options.callerHandlesSignals) {
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    }
    format = attachment.format ?? format;
    return liveSession(ref, target, false, format, attachment, signal, onSignal, async () => undefined);
  }
  if (settings.database.kind !== 'embedded') throw new Error('unreachable');
  const server = embeddedServerFor(settings);
  const lock: HeldLock = await acquireLockFile(ref.paths.lockFile, lockTimeoutMs());
  // §17: a linked worktree's session shares the main worktree's server; its own lock keeps its database,
  // the server's lock is taken only to start or stop the server, and it counts as a user meanwhile.
  const shared = server.paths.lockFile !== ref.paths.lockFile;
  let unregister: (() => void) | null = null;
  let startedServer = false;
  let attachment: Attachment | undefined;
  let target: ConnectionTarget | undefined;
  /** Stops the server when this session started it (or a gone command left it) and no other worktree's process uses it. */
  const stopIfLast = async (): Promise<boolean> => {
    const serverLock = shared ? await acquireLockFile(server.paths.lockFile, lockTimeoutMs()).catch(() => null) : null;
    if (shared && serverLock === null) return false; // a stop elsewhere is under way, or a long command: it stays up
    try {
      unregister?.();
      unregister = null;
      if (!(startedServer || (shared && server.isOrphanedTemporary())) || otherServerUsers(server).length > 0) return false;
      await server.stop();
      return true;
    } finally {
      serverLock?.release();
    }
  };
  // Ctrl-C during a command: a listener replaces node's default exit, so after stopping the server we
  // started (a rolled-back step's transaction is aborted by Postgres) we exit as the signal would have.
  const stopOnSignal = () => {
    signal.interrupted = true;
    void (async () => {
      await attachment?.client?.end().catch(() => undefined);
      if (target) await reopenAfterInterrupt(ref, target);
      if (options.destructive && target) await reportInterrupt(ref, target, format);
      await stopIfLast().catch(() => undefined);
      unregister?.();
      lock.release();
      process.exit(130);
    })();
  };
  try {
    const serverLock = shared ? await acquireLockFile(server.paths.lockFile, lockTimeoutMs()) : null;
    let port: number;
    try {
      if (!server.isInitialised()) {
        if (!options.create) throw notCreatedError();
        options.report?.({ type: 'server', action: 'initialising' });
        await server.initialise();
      }
      const running = server.running();
      startedServer = running === null || server.isOrphanedTemporary();
      if (running === null) options.report?.({ type: 'server', action: 'starting' });
      const driver = running === null ? loadDriver() : undefined; // loads while the server starts
      port = (running ?? (await server.start(true))).port;
      await driver;
      if (running === null) options.report?.({ type: 'server', action: 'ready' });
      if (shared) unregister = registerSession(server);
      await options.prepare?.(server.target(port));
    } finally {
      serverLock?.release();
    }
    if (!options.callerHandlesSignals) {
      process.once('SIGINT', stopOnSignal);
      process.once('SIGTERM', stopOnSignal);
    }
    const serverTarget = server.target(port);
    target = serverTarget;
    const attached = new Attachment(settings, serverTarget, options, false);
    attachment = attached;
    await attached.attach().catch((error: unknown) => {
      if (ref.worktree === null || !isDbguardError(error) || !/does not exist/.test(error.message)) throw error;
      // Gone from the server (dropped by hand or pruned): the next command that needs it makes it again.
      rmSync(join(dirname(ref.paths.cacheFile), WORKTREE_DATABASE_FILE), { force: true });
      throw worktreeDatabaseNotMade(ref.worktree);
    });
    format = attached.format ?? format;
    return liveSession(ref, serverTarget, startedServer, format, attached, signal, stopOnSignal, async () => {
      try {
        if (startedServer) options.report?.({ type: 'server', action: 'stopping' });
        const stopped = await stopIfLast();
        if (startedServer && stopped) options.report?.({ type: 'server', action: 'stopped' });
      } finally {
        lock.release();
      }
    });
  } catch (error) {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await attachment?.close().catch(() => undefined);
    await stopIfLast().catch(() => undefined);
    unregister?.();
    lock.release();
    throw error;
  }
}

function folderGone(root: string): DbguardError {
  return new DbguardError('WORKTREE_GONE', `the project folder ${root} is gone (git worktree remove?); nothing was written there`, {
    hint: 'run dbguard from a folder that exists', details: { root },
  });
}

/** §17: a linked worktree whose database was never copied (no hook ran at `git worktree add`, or it was pruned). */
export function worktreeDatabaseNotMade(worktree: WorktreeTarget): DbguardError {
  return new DbguardError('WORKTREE_DATABASE_NOT_MADE', `this worktree's database ${worktree.database} has not been made yet (a copy of ${worktree.source}, the main worktree's database)`, {
    hint: 'dbguard migrate   (copies it, brings it in step with this branch, applies what is pending), or dbguard db start', details: { database: worktree.database, source: worktree.source },
  });
}

export async function withSession<T>(settings: Settings, options: SessionOptions, work: (session: DbSession) => Promise<T>): Promise<T> {
  const session = await openSession(settings, options);
  try {
    return await work(session);
  } catch (error) {
    // The signal handler reports the interruption and exits; the error it caused is not a second report.
    if (session.interrupted) await new Promise<never>(() => undefined);
    throw error;
  } finally {
    await session.close();
  }
}
