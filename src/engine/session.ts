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
import { connect, loadDriver } from '../db/client.js';
import { embeddedServerFor } from './embedded.js';
import { otherServerUsers, registerSession } from './server-users.js';
import { acquireLockFile, lockTimeoutMs, type HeldLock } from '../fs/lock-file.js';
import { assertStateDirWritable } from '../fs/state.js';
import { databaseRef, WORKTREE_DATABASE_FILE, type DatabaseRef } from './identity.js';

import type { DbSession } from './db-session.js';
import { Attachment, reopenIfWeClosed, type SessionOptions } from './attachment.js';

export type { DbSession } from './db-session.js';
export { closedMarkerPath, maintenanceTarget, sessionLimits, type SessionOptions } from './attachment.js';

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
 * A session whose Ctrl-C (or SIGTERM) handler ran: it ends the connection, reports where the database is
 * and exits 130, so the work's failure that follows (the connection it lost) is not reported.
 */
interface OpenSession extends DbSession {
  readonly interrupted: boolean;
}

/** Ctrl-C: the app (and psql) must not stay locked out until the next dbguard command; else that one opens it. */
const reopenAfterInterrupt = (ref: DatabaseRef, target: ConnectionTarget) =>
  reopenIfWeClosed(ref, target, { lockTimeoutMs: 2_000, statementTimeoutMs: 5_000 }, 3_000).catch(() => false);

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
