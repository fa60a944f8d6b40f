/**
 * Who needs the embedded server (DESIGN §14, issue 25.5). `dbguard run` keeps the server up while its
 * app runs; a second run in the same checkout (and, later, worktrees that share one server) must not
 * have it stopped under its app. The rule, in one place:
 *
 * - each run registers its PID in a registry beside the server's data dir while it needs the server;
 *   a dead PID no longer counts (a run killed with SIGKILL cannot unregister);
 * - the last one out stops the server, and only when a run started it (never one the developer started
 *   with `dbguard db start`) and no other client — psql, an app started by hand — is connected.
 *
 * Joining and leaving hold the data dir's lock file, as every session does: a run never joins a server
 * that another run is stopping, and a command's temporary server is never joined while it runs.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionTarget } from '../core/connection.js';
import { isDbguardError } from '../core/errors.js';
import { isProcessAlive } from '../core/process.js';
import type { Settings } from '../core/settings.js';
import { connect, otherClientSessions } from '../db/client.js';
import { writeOwnFile } from '../embedded/host.js';
import type { EmbeddedServer } from '../embedded/server.js';
import { acquireLockFile, lockTimeoutMs, type HeldLock } from '../fs/lock-file.js';
import { embeddedServerFor } from './embedded.js';

/** Holds the postmaster PID of a server a run started: a marker left from an earlier server never matches. */
const STARTED_BY_RUN = 'started-by-run';

const registryOf = (server: EmbeddedServer) => join(server.config.stateDir, 'server-users');
const entryOf = (registry: string) => join(registry, `run-${process.pid}`);

/**
 * A command's session in a linked worktree (§17) is a user too while it is open: the main worktree's
 * command that started the server for itself must not stop it under another worktree's. Returns the
 * function that unregisters it.
 */
export function registerSession(server: EmbeddedServer): () => void {
  const registry = registryOf(server);
  const entry = join(registry, `session-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(registry, { recursive: true });
  writeOwnFile(entry, `${process.pid}\n`);
  return () => rmSync(entry, { force: true });
}

/** The runs and sessions of other processes that use the server now (§17: it is stopped only without them). */
export function otherServerUsers(server: EmbeddedServer): number[] {
  return otherLiveUsers(registryOf(server));
}

/** The registered users other than this process that are still alive; entries of dead ones are removed. */
function otherLiveUsers(registry: string): number[] {
  let names: string[];
  try {
    names = readdirSync(registry);
  } catch {
    return [];
  }
  const alive: number[] = [];
  for (const name of names) {
    const pid = Number(/^(?:run|session)-([0-9]+)(?:-[0-9a-f]+)?$/.exec(name)?.[1] ?? Number.NaN);
    if (Number.isNaN(pid) || pid === process.pid) continue;
    if (isProcessAlive(pid)) alive.push(pid);
    else rmSync(join(registry, name), { force: true });
  }
  return alive;
}

function startedByRun(registry: string, postmasterPid: number): boolean {
  try {
    return readFileSync(join(registry, STARTED_BY_RUN), 'utf8').trim() === String(postmasterPid);
  } catch {
    return false;
  }
}

/** A client that has just disconnected (the app that exited) leaves its backend for a moment: up to a second. */
async function otherClients(target: ConnectionTarget): Promise<string[]> {
  const client = await connect(target, { lockTimeoutMs: 2_000, statementTimeoutMs: 5_000 }, 3_000);
  try {
    let others = await otherClientSessions(client);
    for (let wait = 0; others.length > 0 && wait < 10; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      others = await otherClientSessions(client);
    }
    return others;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface ServerUse {
  readonly target: ConnectionTarget;
  /**
   * Unregisters, then stops the server if this was its last user (the rule above). Returns one line
   * for the person when the server stays up for someone else, or null.
   */
  leave(): Promise<string | null>;
}

/** Registers this process as a user of the embedded server, starting it (initialised first) when it is stopped. */
export async function useEmbeddedServer(settings: Settings): Promise<ServerUse> {
  const server = embeddedServerFor(settings);
  const registry = registryOf(server);
  // The server's own lock (the main worktree's), shared by every worktree that uses it (§17).
  const lockFile = server.paths.lockFile;
  const lock = await acquireLockFile(lockFile, lockTimeoutMs());
  let port: number;
  try {
    if (!server.isInitialised()) await server.initialise();
    mkdirSync(registry, { recursive: true });
    writeOwnFile(entryOf(registry), `${process.pid}\n`);
    const running = server.running();
    if (running === null || server.isOrphanedTemporary()) {
      // Stopped, or started for a command that crashed (the next command would stop it): the runs' own.
      const started = await server.start(false);
      writeOwnFile(join(registry, STARTED_BY_RUN), `${started.pid}\n`);
      port = started.port;
    } else {
      port = running.port;
    }
  } catch (error) {
    rmSync(entryOf(registry), { force: true });
    throw error;
  } finally {
    lock.release();
  }
  return { target: server.target(port), leave: () => leave(server, registry, lockFile) };
}

async function leave(server: EmbeddedServer, registry: string, lockFile: string): Promise<string | null> {
  let lock: HeldLock;
  try {
    lock = await acquireLockFile(lockFile, lockTimeoutMs());
  } catch (error) {
    rmSync(entryOf(registry), { force: true });
    if (!isDbguardError(error)) throw error;
    return `left the embedded database running (${error.message}); dbguard db stop stops it`;
  }
  try {
    rmSync(entryOf(registry), { force: true });
    const running = server.running();
    if (running === null) return null;
    const runs = otherLiveUsers(registry);
    if (runs.length > 0) return `the embedded database stays up for the other dbguard run${runs.length === 1 ? '' : 's'} (pid ${runs.join(', ')})`;
    // The developer's (dbguard db start) stays; one a command started for itself and left up for us is ours to stop.
    if (!startedByRun(registry, running.pid) && !server.isOrphanedTemporary()) return null;
    const others = await otherClients(server.target(running.port)).catch(() => []);
    if (others.length > 0) return `left the embedded database running: other sessions use it: ${others.join(', ')}; dbguard db stop stops it`;
    await server.stop();
    rmSync(join(registry, STARTED_BY_RUN), { force: true });
    return null;
  } finally {
    lock.release();
  }
}

/** `dbguard db start`: the developer keeps the server; no run stops it when it leaves. */
export function keptByDeveloper(settings: Settings): void {
  rmSync(join(registryOf(embeddedServerFor(settings)), STARTED_BY_RUN), { force: true });
}

/** Client sessions on the running server connected to a database other than `own` ("who on which"). */
export async function sessionsOnOtherDatabases(server: EmbeddedServer, own: string): Promise<string[]> {
  const running = server.running();
  if (running === null) return [];
  const client = await connect({ ...server.target(running.port), database: 'postgres' }).catch(() => null);
  if (client === null) return [];
  try {
    return await otherClientSessions(client, own);
  } finally {
    await client.end().catch(() => undefined);
  }
}
