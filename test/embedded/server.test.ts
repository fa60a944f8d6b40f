import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DbguardError } from '../../src/core/errors.js';
import { postgresBinaries } from '../../src/embedded/binaries.js';
import { EmbeddedServer, readPostmasterPid } from '../../src/embedded/server.js';
import { resetDatabase } from '../../src/engine/reset.js';
import { openSession, withSession } from '../../src/engine/session.js';
import { databaseRef } from '../../src/engine/identity.js';
import { createDatabase, Project, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { migrate } from '../helpers/engine.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function embeddedProject(embedded: Record<string, unknown> = {}): { p: Project; server: EmbeddedServer } {
  const p = new Project('unused', { database: { embedded } });
  const server = new EmbeddedServer({ stateDir: join(p.root, '.dbguard'), port: embedded.port as number | undefined, database: (embedded.database as string) ?? 'postgres' });
  cleanups.push(() => p.cleanup());
  cleanups.push(async () => void (await server.stop().catch(() => undefined)));
  return { p, server };
}

describe('embedded database', () => {
  it('initialises on first use, runs a temporary server for the command, and stops it afterwards', async () => {
    const { p, server } = embeddedProject({ database: 'app_dev' });
    p.setMigrations(tableMigration(1, 'one'));
    const result = await migrate(p.settings());
    expect(result.applied.map((a) => a.version)).toEqual([1n]);
    expect(server.running()).toBeNull();
    expect(statSync(server.paths.dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(server.paths.passwordFile).mode & 0o777).toBe(0o600);

    // The state survives: start again and find the migration applied, in the configured database.
    await withSession(p.settings(), { destructive: false, create: true }, async (session) => {
      expect(session.startedServer).toBe(true);
      expect((await session.client.query('SELECT current_database() AS d, version FROM schema_migrations')).rows).toEqual([{ d: 'app_dev', version: '1' }]);
      expect((await session.client.query('SHOW listen_addresses')).rows[0]).toEqual({ listen_addresses: '127.0.0.1' });
      expect((await session.client.query('SHOW unix_socket_directories')).rows[0]).toEqual({ unix_socket_directories: '' });
      expect((await session.client.query('SHOW password_encryption')).rows[0]).toEqual({ password_encryption: 'scram-sha-256' });
    });
    expect(server.running()).toBeNull();
  });

  it('keeps the embedded database and an external one (a second server) apart: own state, own cache', async () => {
    const { p } = embeddedProject();
    p.setMigrations(tableMigration(1, 'one'));
    await migrate(p.settings());
    const external = await createDatabase();
    const env = { DBGUARD_DATABASE_URL: urlFor(external) };
    const embeddedCache = databaseRef(p.settings()).paths.cacheFile;
    const externalCache = databaseRef(p.settings(env)).paths.cacheFile;
    expect(externalCache).not.toBe(embeddedCache);
    expect(existsSync(externalCache)).toBe(false);

    p.setMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two') });
    const applied = await migrate(p.settings(env));
    expect(applied.applied.map((a) => a.version)).toEqual([1n, 2n]);
    expect(await schemaVersion(external)).toEqual({ version: '2', dirty: false });
    expect(Object.keys(JSON.parse(readFileSync(externalCache, 'utf8')).migrations)).toEqual(['1', '2']);
    // The embedded database and its cache did not move.
    expect(Object.keys(JSON.parse(readFileSync(embeddedCache, 'utf8')).migrations)).toEqual(['1']);
    await withSession(p.settings(), { destructive: false, create: true }, async (session) => {
      expect((await session.client.query('SELECT version::text FROM schema_migrations')).rows).toEqual([{ version: '1' }]);
    });
  });

  it('refuses a wrong password (password auth, not trust)', async () => {
    const { server } = embeddedProject();
    await server.initialise();
    const { port } = await server.start(false);
    const { connect } = await import('../../src/db/client.js');
    const error = await connect({ ...server.target(port), password: 'wrong' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DB_AUTH_FAILED' });
  });

  it('connects to a server that already runs (dbguard db start) and leaves it running', async () => {
    const { p, server } = embeddedProject();
    await server.initialise();
    const running = await server.start(false);
    await withSession(p.settings(), { destructive: false, create: true }, async (session) => {
      expect(session.startedServer).toBe(false);
      expect(session.target.port).toBe(running.port);
    });
    expect(server.running()).toEqual(running);
  });

  it('removes a stale postmaster.pid (dead PID) and starts; never touches a live one', async () => {
    const { p, server } = embeddedProject();
    await server.initialise();
    const pidFile = join(server.paths.dataDir, 'postmaster.pid');
    const live = await server.start(false);
    expect(server.running()).toEqual(live);
    expect(existsSync(pidFile)).toBe(true);
    await server.stop();

    writeFileSync(pidFile, `2147483000\n${server.paths.dataDir}\n0\n5999\n\n127.0.0.1\n0 0\nready\n`);
    await withSession(p.settings(), { destructive: false, create: true }, async (session) => {
      expect(session.startedServer).toBe(true);
      expect(readPostmasterPid(server.paths.dataDir)?.pid).not.toBe(2147483000);
    });
  });

  it('fails clearly when a configured port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const { p } = embeddedProject({ port });
    const error = await withSession(p.settings(), { destructive: false, create: true }, async () => null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DbguardError);
    expect(error).toMatchObject({ code: 'EMBEDDED_START_FAILED', hint: expect.stringContaining(String(port)) });
  });

  it('picks another port when one is taken between the probe and the bind (the port race)', async () => {
    const { p } = embeddedProject();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    const taken = (squatter.address() as { port: number }).port;
    const offered: number[] = [];
    // The first probe "finds" a port that another process has bound by the time Postgres starts.
    const choosePort = async () => {
      const port = offered.length === 0 ? taken : await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const free = (probe.address() as { port: number }).port;
          probe.close(() => resolve(free));
        });
      });
      offered.push(port);
      return port;
    };
    const server = new EmbeddedServer({ stateDir: join(p.root, '.dbguard'), port: undefined, database: 'postgres', choosePort });
    cleanups.push(async () => void (await server.stop().catch(() => undefined)));
    await server.initialise();
    const running = await server.start(true);
    expect(offered[0]).toBe(taken);
    expect(offered.length).toBe(2);
    expect(running.port).toBe(offered[1]);
  });

  it('adopts and stops a temporary server whose owner died (SIGKILL mid-command)', async () => {
    const { p, server } = embeddedProject();
    await server.initialise();
    await server.start(true);
    writeFileSync(join(p.root, '.dbguard', 'server.temporary'), '2147483000\n');
    await withSession(p.settings(), { destructive: false, create: true }, async (session) => expect(session.startedServer).toBe(true));
    expect(server.running()).toBeNull();
  });

  it('makes a second command wait for the data-dir lock, then fail as busy', async () => {
    const { p } = embeddedProject();
    const first = await openSession(p.settings(), { destructive: false, create: true });
    try {
      process.env.DBGUARD_LOCK_TIMEOUT_MS = '300';
      const error = await withSession(p.settings(), { destructive: false, create: true }, async () => null).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'DB_BUSY', hint: expect.stringContaining('wait') });
    } finally {
      delete process.env.DBGUARD_LOCK_TIMEOUT_MS;
      await first.close();
    }
  });

  it('reset empties the database and removes the cache, keeping the server (and so its snapshots); migrate starts over', async () => {
    const { p, server } = embeddedProject();
    p.setMigrations(tableMigration(1, 'one'));
    await migrate(p.settings());
    const cacheFile = databaseRef(p.settings()).paths.cacheFile;
    expect(JSON.parse(readFileSync(cacheFile, 'utf8')).migrations).toEqual({ 1: '1_create_one.up.sql' });
    const result = await resetDatabase(p.settings());
    expect(result.snapshot?.reason).toBe('reset');
    expect(existsSync(server.paths.dataDir)).toBe(true);
    expect(existsSync(cacheFile)).toBe(false);
    expect((await migrate(p.settings())).applied.map((a) => a.version)).toEqual([1n]);
  });

  it('reset of a cluster that cannot start changes nothing and says how to start over', async () => {
    const { p, server } = embeddedProject();
    p.setMigrations(tableMigration(1, 'one'));
    await migrate(p.settings());
    appendFileSync(join(server.paths.dataDir, 'postgresql.conf'), '\nthis is not a setting\n');
    const error = await resetDatabase(p.settings()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EMBEDDED_START_FAILED', message: expect.stringContaining('nothing was changed'), hint: expect.stringContaining(`move ${server.paths.dataDir} away`) });
    expect(existsSync(join(server.paths.dataDir, 'PG_VERSION'))).toBe(true);
  });
});

describe('embedded server state that used to trap users (issue 9, items 8, 14, 18)', () => {
  it('keeps one port for its data dir across restarts, so an exported DATABASE_URL stays valid', async () => {
    const { server } = embeddedProject();
    await server.initialise();
    const first = await server.start(false);
    await server.stop();
    const second = await server.start(false);
    expect(second.port).toBe(first.port);
    expect(readFileSync(join(server.config.stateDir, 'postgres.port'), 'utf8').trim()).toBe(String(first.port));
  });

  it('a postmaster.pid naming a live process that is not this data dir\'s postgres is stale: start works', async () => {
    const { server } = embeddedProject();
    await server.initialise();
    const { port } = await server.start(false);
    await server.stop();
    // After a reboot the old PID belongs to something else: here, this test runner.
    writeFileSync(join(server.paths.dataDir, 'postmaster.pid'), `${process.pid}\n${server.paths.dataDir}\n0\n${port}\n\n127.0.0.1\n0 0\nready\n`);
    expect(server.running()).toBeNull();
    const started = await server.start(false);
    expect(started.pid).not.toBe(process.pid);
    expect(server.running()?.pid).toBe(started.pid);
  });

  it('a data dir deleted under a running server (git clean -fdx): the new cluster starts, works and restarts intact', async () => {
    const { p, server } = embeddedProject();
    p.setMigrations(tableMigration(1, 'one'));
    await server.initialise();
    const old = await server.start(false);
    rmSync(join(p.root, '.dbguard'), { recursive: true, force: true });
    await migrate(p.settings()); // initialises a new cluster at the same path
    // The orphan was stopped, not left beside it (a zombie at most: nothing here reaps it).
    const state = existsSync(`/proc/${old.pid}/stat`) ? readFileSync(`/proc/${old.pid}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone';
    expect(['gone', 'Z', 'X']).toContain(state);
    await server.start(false);
    await server.stop();
    await server.start(false); // a corrupt cluster fails here ("could not locate a valid checkpoint record")
    await withSession(p.settings(), { destructive: false, create: true }, async (session) => {
      expect((await session.client.query('SELECT version FROM schema_migrations')).rows).toEqual([{ version: '1' }]);
    });
  });

  it('initialise re-creates the binaries\' library links before initdb runs (npm 11 skips the postinstall)', async () => {
    const p = new Project('unused');
    cleanups.push(() => p.cleanup());
    const calls: Array<{ clusterExisted: boolean }> = [];
    const stateDir = join(p.root, '.dbguard');
    const server = new EmbeddedServer({
      stateDir, port: undefined, database: 'postgres',
      binaries: async () => {
        calls.push({ clusterExisted: existsSync(join(stateDir, 'postgres', 'PG_VERSION')) });
        return postgresBinaries();
      },
    });
    await server.initialise();
    expect(calls[0]).toEqual({ clusterExisted: false });
    expect(server.isInitialised()).toBe(true);
  });

  it('initdb\'s password file never lies in the shared temp dir', async () => {
    const { server } = embeddedProject();
    const shared = mkdtempSync(join(tmpdir(), 'dbguard-shared-tmp-'));
    chmodSync(shared, 0o1777); // as /tmp is
    cleanups.push(() => rmSync(shared, { recursive: true, force: true }));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = shared;
    const seen: Array<{ name: string; mode: number }> = [];
    const watch = setInterval(() => {
      for (const name of readdirSync(shared)) {
        const mode = statSync(join(shared, name), { throwIfNoEntry: false })?.mode;
        if (mode !== undefined) seen.push({ name, mode: mode & 0o777 });
      }
    }, 2);
    try {
      await server.initialise();
    } finally {
      clearInterval(watch);
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(seen.length).toBeGreaterThan(0); // the private folder was seen while initdb ran
    expect(seen.filter((s) => s.name.startsWith('pg-password'))).toEqual([]);
    expect(seen.every((s) => s.name.startsWith('dbguard-initdb-') && s.mode === 0o700)).toBe(true);
    expect(readdirSync(shared)).toEqual([]);
  });
});
