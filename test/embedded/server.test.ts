import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DbguardError } from '../../src/core/errors.js';
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
    await withSession(p.settings(), { destructive: false }, async (session) => {
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
    await withSession(p.settings(), { destructive: false }, async (session) => {
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
    await withSession(p.settings(), { destructive: false }, async (session) => {
      expect(session.startedServer).toBe(false);
      expect(session.target.port).toBe(running.port);
    });
    expect(server.running()).toEqual(running);
  });

  it('removes a stale postmaster.pid (dead PID) and starts; never touches a live one', async () => {
    const { p, server } = embeddedProject();
    await server.initialise();
    const pidFile = join(server.paths.dataDir, 'postmaster.pid');
    writeFileSync(pidFile, `${process.pid}\n${server.paths.dataDir}\n0\n5999\n\n127.0.0.1\n0 0\nready\n`);
    expect(server.running()).toEqual({ pid: process.pid, port: 5999 });
    expect(existsSync(pidFile)).toBe(true);

    writeFileSync(pidFile, `2147483000\n${server.paths.dataDir}\n0\n5999\n\n127.0.0.1\n0 0\nready\n`);
    await withSession(p.settings(), { destructive: false }, async (session) => {
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
    const error = await withSession(p.settings(), { destructive: false }, async () => null).catch((e: unknown) => e);
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
    await withSession(p.settings(), { destructive: false }, async (session) => expect(session.startedServer).toBe(true));
    expect(server.running()).toBeNull();
  });

  it('makes a second command wait for the data-dir lock, then fail as busy', async () => {
    const { p } = embeddedProject();
    const first = await openSession(p.settings(), { destructive: false });
    try {
      process.env.DBGUARD_LOCK_TIMEOUT_MS = '300';
      const error = await withSession(p.settings(), { destructive: false }, async () => null).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'DB_BUSY', hint: expect.stringContaining('wait') });
    } finally {
      delete process.env.DBGUARD_LOCK_TIMEOUT_MS;
      await first.close();
    }
  });

  it('reset removes the data dir, the password file and the cache, then re-initialises on next use', async () => {
    const { p, server } = embeddedProject();
    p.setMigrations(tableMigration(1, 'one'));
    await migrate(p.settings());
    const cacheFile = databaseRef(p.settings()).paths.cacheFile;
    expect(JSON.parse(readFileSync(cacheFile, 'utf8')).migrations).toEqual({ 1: '1_create_one.up.sql' });
    await resetDatabase(p.settings());
    expect(existsSync(server.paths.dataDir)).toBe(false);
    expect(existsSync(cacheFile)).toBe(false);
    expect((await migrate(p.settings())).applied.map((a) => a.version)).toEqual([1n]);
  });
});
