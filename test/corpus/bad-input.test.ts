/**
 * Hostile and broken inputs (issue 6). Each case arranges one problem, runs the built binary, and
 * asserts a clear error code, its exit class, a next command, and no change at all in the database.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCodeFor, type ErrorCode } from '../../src/core/errors.js';
import { databaseRef } from '../../src/engine/identity.js';
import { adminClient, query, serverInfo, urlFor, type Project } from '../helpers/db.js';
import { BRANCH_A, BRANCH_B, dbguard, fingerprint, openUpState, scenario, type Setup } from './scenario.js';

interface Case {
  readonly name: string;
  readonly setup?: Setup;
  readonly arrange?: (p: Project, db: string) => unknown;
  readonly command?: readonly string[];
  readonly env?: (db: string) => NodeJS.ProcessEnv;
  readonly asNobody?: boolean;
  readonly code: ErrorCode;
}

const write = (p: Project, name: string | Buffer, content: string | Buffer) =>
  writeFileSync(typeof name === 'string' ? join(p.migrationsDir, name) : Buffer.concat([Buffer.from(`${p.migrationsDir}/`), name]), content);
const cacheFile = (p: Project) => databaseRef(p.settings()).paths.cacheFile;
const config = (p: Project, value: unknown) => writeFileSync(join(p.root, 'dbguard.config.json'), typeof value === 'string' ? value : JSON.stringify(value));
const setDown = (db: string, version: number, sql: string | null) => query(db, 'UPDATE _dbguard.applied_migrations SET down_sql = $1 WHERE version = $2', [sql, version]);

const CASES: Case[] = [
  // Migration file names
  { name: 'a name that looks like a migration but does not parse', arrange: (p) => write(p, 'abc_create.up.sql', 'SELECT 1;'), code: 'MIGRATION_NAME_INVALID' },
  { name: 'version zero', arrange: (p) => write(p, '0_zero.up.sql', 'SELECT 1;'), code: 'MIGRATION_NAME_INVALID' },
  { name: 'a version beyond bigint', arrange: (p) => write(p, '99999999999999999999_big.up.sql', 'SELECT 1;'), code: 'MIGRATION_NAME_INVALID' },
  { name: 'a newline in a name', arrange: (p) => write(p, '451_a\nb.up.sql', 'SELECT 1;'), code: 'MIGRATION_NAME_INVALID' },
  { name: 'a name that is not UTF-8', arrange: (p) => write(p, Buffer.from([0x34, 0x35, 0x31, 0x5f, 0x63, 0x61, 0x66, 0xe9, 0x2e, 0x75, 0x70, 0x2e, 0x73, 0x71, 0x6c]), 'SELECT 1;'), code: 'MIGRATION_NAME_INVALID' },
  { name: 'a duplicate version with different names', arrange: (p) => write(p, '450_other_name.up.sql', 'SELECT 1;'), code: 'MIGRATION_VERSION_REUSED' },
  { name: 'the same version written with leading zeros', arrange: (p) => write(p, '0450_create_b_only.up.sql', 'SELECT 1;'), code: 'MIGRATION_VERSION_REUSED' },
  { name: 'SQL injection in a file name (quotes, semicolon) while the branch lacks applied migrations', arrange: (p) => write(p, "451_x'); DROP TABLE chat; --.up.sql", 'SELECT 1;'), command: ['migrate'], code: 'DATABASE_AHEAD' },
  // Migration file contents (migrate reads every pending file before changing anything)
  { name: 'an up file without a down, phantom with no down SQL anywhere', arrange: (p, db) => setDown(db, 447, null), code: 'NO_DOWN_SQL' },
  { name: 'an empty up file', setup: 'clean', arrange: (p) => write(p, '448_empty.up.sql', ''), command: ['migrate'], code: 'MIGRATION_FILE_INVALID' },
  { name: 'a binary up file', setup: 'clean', arrange: (p) => write(p, '448_bin.up.sql', Buffer.from([0x43, 0x00, 0x01, 0xff])), command: ['migrate'], code: 'MIGRATION_FILE_INVALID' },
  { name: 'an up file that is not UTF-8', setup: 'clean', arrange: (p) => write(p, '448_latin1.up.sql', Buffer.from('SELECT \'caf\xe9\';', 'latin1')), command: ['migrate'], code: 'MIGRATION_FILE_INVALID' },
  {
    name: 'a 50 MB migration', setup: 'clean', command: ['migrate'], code: 'MIGRATION_FILE_INVALID',
    arrange: (p) => {
      write(p, '448_huge.up.sql', '');
      truncateSync(join(p.migrationsDir, '448_huge.up.sql'), 50 * 1024 * 1024);
    },
  },
  { name: 'a migration that is a dangling link', setup: 'clean', arrange: (p) => symlinkSync('/nonexistent/file.sql', join(p.migrationsDir, '448_link.up.sql')), command: ['migrate'], code: 'MIGRATION_FILE_INVALID' },
  { name: 'a migration name that is a directory', setup: 'clean', arrange: (p) => mkdirSync(join(p.migrationsDir, '448_dir.up.sql')), command: ['migrate'], code: 'MIGRATION_FILE_INVALID' },
  // The cache
  { name: 'corrupt cache JSON', arrange: (p) => writeFileSync(cacheFile(p), '{"version": 1, "migr'), command: ['check'], code: 'CACHE_CORRUPT' },
  { name: 'a truncated cache', arrange: (p) => truncateSync(cacheFile(p), Math.floor(readFileSync(cacheFile(p)).length / 2)), command: ['check'], code: 'CACHE_CORRUPT' },
  { name: 'an empty cache file', arrange: (p) => writeFileSync(cacheFile(p), ''), command: ['check'], code: 'CACHE_CORRUPT' },
  { name: 'a cache of the wrong shape', arrange: (p) => writeFileSync(cacheFile(p), JSON.stringify({ version: 1, database: 'x', migrations: 'all of them' })), command: ['check'], code: 'CACHE_CORRUPT' },
  { name: 'a cache of an unknown format version', arrange: (p) => writeFileSync(cacheFile(p), JSON.stringify({ version: 99, migrations: {} })), command: ['check'], code: 'CACHE_VERSION_UNSUPPORTED' },
  {
    name: 'a cache written for a different database', command: ['rollback', '--yes'], code: 'CACHE_OTHER_DATABASE',
    arrange: (p) => writeFileSync(cacheFile(p), readFileSync(cacheFile(p), 'utf8').replace(/"database":\s*"[^"]*"/, '"database": "postgres://elsewhere:5432/other"')),
  },
  // Folders and permissions
  { name: 'the migrations path is a file', arrange: (p) => { rmSync(p.migrationsDir, { recursive: true }); writeFileSync(p.migrationsDir, 'not a folder'); }, code: 'MIGRATIONS_DIR_NOT_FOUND' },
  { name: 'the migrations folder is unreadable', asNobody: true, arrange: (p) => chmodSync(p.migrationsDir, 0o000), code: 'MIGRATIONS_DIR_UNREADABLE' },
  {
    name: 'the state dir is not writable', asNobody: true, code: 'STATE_DIR_UNWRITABLE',
    arrange: (p) => chmodSync(dirname(cacheFile(p)), 0o555),
  },
  // Database states the plan refuses
  // Another tool's tracking table (issue 19): a clear error, never INTERNAL nor a silent "nothing applied"
  {
    name: "dbmate's schema_migrations (version varchar, no dirty)", command: ['capture'], code: 'FORMAT_NOT_SUPPORTED',
    arrange: (p, db) => query(db, "DROP TABLE schema_migrations; CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY); INSERT INTO schema_migrations VALUES ('445'), ('446'), ('447')"),
  },
  {
    name: "sql-migrate's gorp_migrations and no schema_migrations", command: ['check'], code: 'FORMAT_NOT_SUPPORTED',
    arrange: (p, db) => query(db, "DROP TABLE schema_migrations; CREATE TABLE gorp_migrations (id text PRIMARY KEY, applied_at timestamptz); INSERT INTO gorp_migrations VALUES ('445_create_chat.sql', now())"),
  },
  { name: "goose's goose_db_version and no schema_migrations", command: ['migrate'], code: 'FORMAT_NOT_SUPPORTED', arrange: (p, db) => query(db, 'DROP TABLE schema_migrations; CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now()); INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true)') },
  { name: 'a dbmate migration file among golang-migrate\'s', arrange: (p) => write(p, '20240101120000_create_x.sql', '-- migrate:up\nCREATE TABLE x ();\n-- migrate:down\nDROP TABLE x;\n'), code: 'MIGRATION_NAME_INVALID' },
  { name: 'a dbmate migration file where the config names golang-migrate', arrange: (p, db) => { config(p, { database: { url: urlFor(db) }, format: 'golang-migrate' }); write(p, '20240101120000_create_x.sql', '-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n'); }, code: 'MIGRATION_NAME_INVALID' },
  { name: 'a dirty database', arrange: (p, db) => query(db, 'UPDATE schema_migrations SET dirty = true'), code: 'DIRTY' },
  { name: 'an untracked version (applied elsewhere, no file, nothing stored)', arrange: (p, db) => query(db, 'UPDATE schema_migrations SET version = 449'), code: 'UNTRACKED' },
  // Hostile down SQL: the step's transaction is rolled back
  { name: 'down SQL with a syntax error', arrange: (p, db) => setDown(db, 447, 'DROP TABLE a_two; DROPP TABLE chat;'), code: 'STEP_FAILED' },
  { name: 'down SQL that drops the tracking schema', arrange: (p, db) => setDown(db, 447, 'DROP SCHEMA _dbguard CASCADE; DROP TABLE a_two;'), code: 'UNSAFE_DOWN_SQL' },
  { name: 'down SQL outside a transaction that empties the tracking table', arrange: (p, db) => setDown(db, 447, 'BEGIN; DROP TABLE a_two; COMMIT; DELETE FROM "_dbguard".applied_migrations;'), code: 'UNSAFE_DOWN_SQL' },
  { name: 'an empty down file (as `migrate create` writes it) for a migration that made a table', arrange: (p, db) => setDown(db, 447, '  -- TODO\n'), code: 'IRREVERSIBLE' },
  { name: 'down SQL that drops schema_migrations', arrange: (p, db) => setDown(db, 447, 'DROP TABLE a_two; DROP TABLE schema_migrations;'), code: 'STEP_FAILED' },
  // Connections
  { name: 'a wrong password', env: () => ({ DBGUARD_DATABASE_URL: `postgres://${serverInfo().user}:wrong-password@127.0.0.1:${serverInfo().port}/postgres` }), code: 'DB_AUTH_FAILED' },
  { name: 'an unreachable host', env: () => ({ DBGUARD_DATABASE_URL: 'postgres://me:pw@127.0.0.1:1/app' }), code: 'DB_CONNECT_FAILED' },
  { name: 'a remote host without allowRemote', env: () => ({ DBGUARD_DATABASE_URL: 'postgres://me:pw@db.example.com:5432/app' }), code: 'REMOTE_REFUSED' },
  { name: 'a malformed database URL', env: () => ({ DBGUARD_DATABASE_URL: 'postgres://me:%zz@localhost/app' }), code: 'CONFIG_INVALID' },
  // Configuration
  { name: 'a config with an unknown key', arrange: (p, db) => config(p, { database: { url: urlFor(db) }, onConflit: 'rollback' }), code: 'CONFIG_INVALID' },
  { name: 'a config with a wrong type', arrange: (p, db) => config(p, { database: { url: urlFor(db) }, onConflict: 5 }), code: 'CONFIG_INVALID' },
  { name: 'a config with a port out of range', arrange: (p) => config(p, { database: { embedded: { port: 70000 } } }), code: 'CONFIG_INVALID' },
  { name: 'a config that is not JSON', arrange: (p) => config(p, '{ "migrationsDir": "migrations", }'), code: 'CONFIG_NOT_JSON' },
  { name: 'a config naming dbmate for golang-migrate\'s files, cache and table', arrange: (p, db) => config(p, { database: { url: urlFor(db) }, format: 'dbmate' }), code: 'CACHE_OTHER_FORMAT' },
  { name: 'a config naming a format dbguard does not know', arrange: (p, db) => config(p, { database: { url: urlFor(db) }, format: 'flyway' }), code: 'CONFIG_INVALID' },
  { name: 'DBGUARD_FORMAT=goose over golang-migrate\'s cache and table', env: () => ({ DBGUARD_FORMAT: 'goose' }), code: 'CACHE_OTHER_FORMAT' },
  { name: 'an invalid DBGUARD_ON_CONFLICT', env: () => ({ DBGUARD_ON_CONFLICT: 'sometimes' }), code: 'CONFIG_INVALID' },
  // Commands
  { name: 'an unknown hooks action', command: ['hooks', 'reinstall'], code: 'USAGE' },
  { name: 'a misspelled option (--dryrun) next to --yes', command: ['rollback', '--dryrun', '--yes'], code: 'USAGE' },
  { name: 'reset confirmed with the wrong database name', command: ['reset', '--yes'], env: () => ({ DBGUARD_CONFIRM_RESET: 'postgres' }), code: 'CONFIRMATION_MISMATCH' },
  { name: 'rollback with no terminal and no --yes', command: ['rollback'], code: 'NOT_A_TTY' },
];

const projects: Project[] = [];
afterEach(() => {
  for (const p of projects.splice(0)) {
    chmodSync(p.root, 0o755);
    try {
      chmodSync(p.migrationsDir, 0o755);
    } catch { /* removed by the case */ }
    p.cleanup();
  }
});

describe('bad input corpus: a clear error and no change in the database', () => {
  it.each(CASES)('$name → $code', async (c) => {
    const { p, db } = await scenario(c.setup ?? 'conflicted');
    projects.push(p);
    if (c.asNobody) openUpState(p);
    await c.arrange?.(p, db);
    const before = await fingerprint(db);
    const result = dbguard(p, c.command ?? ['rollback', '--yes'], c.env?.(db) ?? {}, c.asNobody);
    expect(result.json.error?.code, result.stderr).toBe(c.code);
    expect(result.status).toBe(exitCodeFor(c.code));
    expect(result.json.error?.message).toBeTruthy();
    expect(result.json.error?.hint).toBeTruthy();
    expect(result.stdout).not.toContain(serverInfo().password);
    expect(await fingerprint(db)).toEqual(before);
  });
});

describe('names that need quoting work end to end', () => {
  it('a database named with quotes, spaces and a semicolon; migration titles with SQL in them', async () => {
    const weird = `dbguard "q" ; name ${Math.random().toString(36).slice(2, 8)}`;
    const admin = await adminClient();
    try {
      await admin.query(`CREATE DATABASE "${weird.replace(/"/g, '""')}"`);
    } finally {
      await admin.end();
    }
    const injection = "446_x'); DROP TABLE chat; --";
    const { p, db } = await scenario('clean', weird);
    projects.push(p);
    p.setMigrations({ ...BRANCH_A, [`${injection}.up.sql`.replace('446', '448')]: 'CREATE TABLE odd (id int);', [`${injection}.down.sql`.replace('446', '448')]: 'DROP TABLE odd;' });
    expect(dbguard(p, ['migrate']).json.ok).toBe(true);
    expect(await query(db, 'SELECT filename FROM _dbguard.applied_migrations WHERE version = 448')).toEqual([{ filename: "448_x'); DROP TABLE chat; --.up.sql" }]);
    p.setMigrations(BRANCH_B);
    const rolled = dbguard(p, ['rollback', '--yes']);
    expect(rolled.json.ok, rolled.stdout).toBe(true);
    expect(await query(db, 'SELECT version::text, dirty FROM schema_migrations')).toEqual([{ version: '445', dirty: false }]);
    expect(await query(db, 'SELECT count(*)::int AS n FROM chat')).toEqual([{ n: 100 }]);
    const reset = dbguard(p, ['reset', '--yes'], { DBGUARD_CONFIRM_RESET: weird });
    expect(reset.json.ok, reset.stdout).toBe(true);
    expect(await query(db, "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema IN ('public', '_dbguard')")).toEqual([{ n: 0 }]);
  });
});
