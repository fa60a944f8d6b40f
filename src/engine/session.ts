/**
 * A working connection to the configured database. For the embedded one this takes the data-dir lock
 * file, initialises or starts a temporary server when none runs, and stops what it started on close.
 */
import type { Settings } from '../core/settings.js';
import { dirname } from 'node:path';
import { isLocalHost, type ConnectionTarget } from '../core/connection.js';
import { DbguardError } from '../core/errors.js';
import { acquireAdvisoryLock } from '../db/advisory-lock.js';
import { connect, type PgClient, type SessionLimits } from '../db/client.js';
import { embeddedServerFor } from './embedded.js';
import { acquireLockFile, lockTimeoutMs, type HeldLock } from '../fs/lock-file.js';
import { assertStateDirWritable } from '../fs/state.js';
import { databaseRef, type DatabaseRef } from './identity.js';
import type { Reporter } from '../core/events.js';

export interface DbSession {
  readonly ref: DatabaseRef;
  readonly client: PgClient;
  readonly target: ConnectionTarget;
  /** True when this session started the embedded server (and will stop it). */
  readonly startedServer: boolean;
  close(): Promise<void>;
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
async function reportInterrupt(ref: DatabaseRef, target: ConnectionTarget): Promise<void> {
  let where = 'its version could not be read';
  try {
    const client = await connect(target, { lockTimeoutMs: 2_000, statementTimeoutMs: 5_000 }, 3_000);
    try {
      const { readSchemaVersion } = await import('../db/schema-migrations.js');
      const version = await readSchemaVersion(client);
      where = `the database is at version ${version?.version ?? 'none'} (${version?.dirty ? 'dirty' : 'clean'})`;
      const { rewriteCache } = await import('./capture.js');
      await rewriteCache({ ref, client, target, startedServer: false, close: async () => undefined });
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch {
    // Nothing more to say than that it was interrupted.
  }
  process.stderr.write(`dbguard: interrupted; the step in progress was undone with its transaction; ${where}\n  next: dbguard status   (then dbguard rollback or dbguard migrate finishes the job)\n`);
}

async function lockIfChanging(client: PgClient, options: SessionOptions): Promise<() => Promise<void>> {
  if (!options.destructive) return async () => undefined;
  return acquireAdvisoryLock(client, options.lockWaitMs ?? lockTimeoutMs());
}

export async function openSession(settings: Settings, options: SessionOptions): Promise<DbSession> {
  const ref = databaseRef(settings);
  if (options.destructive) assertStateDirWritable(dirname(ref.paths.cacheFile));
  if (ref.kind === 'external') {
    const target = ref.target as ConnectionTarget;
    if (options.destructive) assertLocalOrAllowed(settings, target);
    const client = await connect(target, sessionLimits(settings, options.deadline));
    const unlock = await lockIfChanging(client, options).catch(async (error: unknown) => {
      await client.end().catch(() => undefined);
      throw error;
    });
    const onSignal = () => {
      void (async () => {
        await client.end().catch(() => undefined);
        if (options.destructive) await reportInterrupt(ref, target);
        process.exit(130);
      })();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    return {
      ref, client, target, startedServer: false,
      async close() {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await unlock();
        await client.end().catch(() => undefined);
      },
    };
  }
  if (settings.database.kind !== 'embedded') throw new Error('unreachable');
  const server = embeddedServerFor(settings);
  const lock: HeldLock = await acquireLockFile(ref.paths.lockFile, lockTimeoutMs());
  let startedServer = false;
  let client: PgClient | undefined;
  let target: ConnectionTarget | undefined;
  // Ctrl-C during a command: a listener replaces node's default exit, so after stopping the server we
  // started (a rolled-back step's transaction is aborted by Postgres) we exit as the signal would have.
  const stopOnSignal = () => {
    void (async () => {
      await client?.end().catch(() => undefined);
      if (options.destructive && target) await reportInterrupt(ref, target);
      if (startedServer) await server.stop().catch(() => undefined);
      lock.release();
      process.exit(130);
    })();
  };
  try {
    if (!server.isInitialised()) {
      options.report?.({ type: 'server', action: 'initialising' });
      await server.initialise();
    }
    const running = server.running();
    startedServer = running === null || server.isOrphanedTemporary();
    if (running === null) options.report?.({ type: 'server', action: 'starting' });
    const port = (running ?? (await server.start(true))).port;
    if (running === null) options.report?.({ type: 'server', action: 'ready' });
    process.once('SIGINT', stopOnSignal);
    process.once('SIGTERM', stopOnSignal);
    const serverTarget = server.target(port);
    target = serverTarget;
    client = await connect(serverTarget, sessionLimits(settings, options.deadline));
    const opened = client;
    const unlock = await lockIfChanging(opened, options);
    return {
      ref, client: opened, target: serverTarget, startedServer,
      async close() {
        process.off('SIGINT', stopOnSignal);
        process.off('SIGTERM', stopOnSignal);
        await unlock();
        await opened.end().catch(() => undefined);
        try {
          if (startedServer) {
            options.report?.({ type: 'server', action: 'stopping' });
            await server.stop();
            options.report?.({ type: 'server', action: 'stopped' });
          }
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await client?.end().catch(() => undefined);
    if (startedServer) await server.stop().catch(() => undefined);
    lock.release();
    throw error;
  }
}

export async function withSession<T>(settings: Settings, options: SessionOptions, work: (session: DbSession) => Promise<T>): Promise<T> {
  const session = await openSession(settings, options);
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}
