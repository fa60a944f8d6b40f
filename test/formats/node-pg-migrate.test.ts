/**
 * Issue 30, node-pg-migrate through the real tool (npm, node_modules/.bin/node-pg-migrate): its SQL
 * files cut as its own getActions cuts them, `pgmigrations` written as it writes it; after a branch
 * switch, dbguard's rollback and migrate leave a table whose `up` and `down` agree with what is on disk.
 */
import pg from 'pg';
import { getActions } from 'node-pg-migrate/sqlMigration';
import { PG_MIGRATE_LOCK_ID } from 'node-pg-migrate';
import { afterEach, describe, expect, it } from 'vitest';
import { nodePgMigrate as format } from '../../src/formats/node-pg-migrate.js';
import { detectFormat } from '../../src/formats/index.js';
import { createDatabase, query, urlFor } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';
import { nodePgMigrate as tool } from '../helpers/tools.js';

const code = (f: () => unknown) => { try { f(); return null; } catch (error) { return { code: (error as { code?: string }).code, message: (error as Error).message }; } };

/** What the tool's own loader hands `pgm.sql` for each direction (false: it has no down). */
function toolSections(text: string): { up: string; down: string | false } {
  const sql = (action: unknown) => {
    if (typeof action !== 'function') return false as const;
    let got = '';
    (action as (pgm: { sql: (s: string) => void }) => void)({ sql: (s) => { got = s; } });
    return got;
  };
  const actions = getActions(text);
  return { up: sql(actions.up) as string, down: sql(actions.down) };
}

describe('node-pg-migrate\'s format module', () => {
  it('cuts a file exactly as the tool\'s getActions does: markers in any case and order, blank lines, no down, no markers at all', () => {
    const samples = [
      '-- Up Migration\nCREATE TABLE a ();\n\n-- Down Migration\nDROP TABLE a;\n',
      '-- Down Migration\nDROP TABLE a;\n-- Up Migration\nCREATE TABLE a ();\n',
      '-- a note\n\n  --- UP   MIGRATION adds a\nCREATE TABLE a ();\n\n\n--down migration\nDROP TABLE a;',
      '-- Up Migration\r\nCREATE TABLE a ();\r\n-- Down Migration\r\nDROP TABLE a;\r\n',
      '-- Up Migration\nCREATE TABLE a ();\n',
      'CREATE TABLE a ();\nINSERT INTO a DEFAULT VALUES;\n',
      '-- Up Migration\n\n-- Down Migration',
    ];
    for (const text of samples) {
      const theirs = toolSections(text);
      expect({ up: format.sectionOf(text, 'up', 'f.sql'), down: format.sectionOf(text, 'down', 'f.sql') }, text).toEqual({ up: theirs.up, down: theirs.down === false ? '' : theirs.down });
    }
    expect(format.blankDown(format.sectionOf(samples[4] as string, 'down', 'f.sql'))).toBe('no Down Migration section');
  });

  it('markers the tool would read otherwise than meant are MIGRATION_FILE_INVALID naming the file and line', () => {
    expect(code(() => format.sectionOf('-- Up Migration\nCREATE TABLE a ();\n-- Down-Migration\nDROP TABLE a;\n', 'up', '1_a.sql')))
      .toEqual({ code: 'MIGRATION_FILE_INVALID', message: expect.stringMatching(/^1_a\.sql line 3: "-- Down-Migration" is not a marker node-pg-migrate reads/) });
    expect(code(() => format.sectionOf('CREATE TABLE a ();\n-- Down Migration\nDROP TABLE a;\n', 'down', '1_a.sql'))?.message)
      .toBe('1_a.sql line 2: has a "-- Down Migration" line but no "-- Up Migration" line, so node-pg-migrate runs the whole file, down section included, as the up');
    expect(code(() => format.sectionOf('-- Up Migration\nA;\n-- Down Migration\nB;\n\n-- Up Migration\nC;\n', 'up', '1_a.sql'))?.message)
      .toContain('1_a.sql line 6: a second "-- Up Migration" line: node-pg-migrate cuts at the first one only, so it runs the lines below this one as part of the Down section');
    expect(code(() => format.sectionOf('CREATE TABLE x ();\n-- Up Migration\nA;\n', 'up', '1_a.sql'))?.message).toContain('1_a.sql line 1: has SQL before its first marker');
    // A later marker inside its own section is only text to the tool, and harmless.
    expect(format.sectionOf('-- Up Migration\nA;\n-- up migration, part two\nB;\n-- Down Migration\nC;\n', 'up', 'f.sql')).toBe('-- Up Migration\nA;\n-- up migration, part two\nB;\n');
  });

  it('names: the leading number is the version, the name the file name without its extension; scripts are migrations dbguard cannot run', () => {
    expect(format.parseFileName('1700000000000_create-users.sql')).toEqual({ version: 1700000000000n, name: 'create-users', direction: 'up' });
    expect(format.parseFileName('1700000000001_seed.js')).toEqual({ version: 1700000000001n, name: 'seed', direction: 'up', runnable: false });
    for (const name of ['2_a.cjs', '2_a.mjs', '2_a.ts', '2_a.mts', '2_a.cts']) expect(format.parseFileName(name)?.runnable).toBe(false);
    expect([format.parseFileName('types.d.ts'), format.parseFileName('README.md')]).toEqual([null, null]);
    expect(format.looksLikeMigration('init.sql')).toBe(true);
    expect(format.invalidNameReason('init.sql')).toContain('Cannot determine numeric prefix');
    expect(format.idMatches('1700000000001_seed', '1700000000001_seed.js')).toBe(true);
    expect(format.idMatches('1700000000001_seed', '1700000000001_seeds.sql')).toBe(false);
  });

  it('the rows as the tool writes and removes them, read in its run_on, id order; its lock key', () => {
    // migration.ts _getMarkAsRun: INSERT INTO "public"."pgmigrations" (name, run_on) VALUES ('<name>', NOW());
    expect(format.recordApplySql({ version: 5n, filename: '5_add-posts.sql' }, 5n)).toBe('INSERT INTO "public"."pgmigrations" (name, run_on) VALUES (E\'5_add-posts\', NOW());');
    expect(format.recordUnapplySql({ version: 5n, filename: '5_add-posts.sql' }, 2n)).toBe('DELETE FROM "public"."pgmigrations" WHERE substring(name from \'^[0-9]+\')::numeric = 5;');
    expect(format.readAppliedSql).toBe('SELECT name FROM "public"."pgmigrations" ORDER BY run_on, id');
    expect(format.appliedFromRows([{ name: '1_a' }, { name: '10_b' }])).toEqual({ version: 10n, dirty: false, applied: new Map([[1n, '1_a'], [10n, '10_b']]) });
    expect(code(() => format.appliedFromRows([{ name: 'init' }]))?.code).toBe('TRACKING_ROW_INVALID');
    expect(code(() => format.appliedFromRows([{ name: '1_a' }, { name: '1_a' }]))?.message).toContain('lists "1_a" twice');
    expect(format.outOfOrder).toBe('refused');
    expect(format.lockKeys('app', 'public')).toEqual([String(PG_MIGRATE_LOCK_ID)]);
  });

  it('is told from a "-- Up Migration" file or a script that names pgm, reading nothing more', () => {
    const heads: Record<string, string> = { '1_a.sql': '-- Up Migration\nSELECT 1;\n', '2_b.js': 'exports.up = (pgm) => { pgm.createTable("b", {}) };\n', '3_knex.js': 'exports.up = (knex) => knex.schema.createTable("c");\n' };
    const read = (name: string) => heads[name] ?? null;
    expect(detectFormat(['README.md', '1_a.sql'], read)).toBe('node-pg-migrate');
    expect(detectFormat(['2_b.js'], read)).toBe('node-pg-migrate');
    expect(detectFormat(['3_knex.js'], read)).toBeNull();
  });
});

const USERS = '1700000000000_create-users.sql';
const POSTS = '1700000000001_add-posts.sql';
const TAGS = '1700000000002_add-tags.sql';
const SEED = '1700000000003_seed-admin.js';
const FILES: Record<string, string> = {
  [USERS]: '-- Up Migration\nCREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);\n\n-- Down Migration\nDROP TABLE users;\n',
  [POSTS]: '-- Up Migration\nCREATE TYPE post_state AS ENUM (\'draft\', \'published\');\nCREATE TABLE posts (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users, state post_state NOT NULL DEFAULT \'draft\');\n\n-- Down Migration\nDROP TABLE posts;\nDROP TYPE post_state;\n',
  [TAGS]: '-- Down Migration\nDROP TABLE tags;\n\n-- Up Migration\nCREATE TABLE tags (id bigserial PRIMARY KEY, label text)\n',
  [SEED]: '/** @param pgm {import(\'node-pg-migrate\').MigrationBuilder} */\nexports.up = (pgm) => { pgm.sql("INSERT INTO users (email) VALUES (\'admin@example.com\')"); };\nexports.down = (pgm) => { pgm.sql("DELETE FROM users WHERE email = \'admin@example.com\'"); };\n',
};
const pick = (names: readonly string[]) => Object.fromEntries(names.map((name) => [name, FILES[name] as string]));
const names = async (db: string) => (await query<{ name: string }>(db, 'SELECT name FROM pgmigrations ORDER BY run_on, id')).map((row) => row.name);

let repo: GitRepo | undefined;
afterEach(() => repo?.cleanup());

/** main has the users migration, branch posts adds posts and tags; the app (the real tool) applied all three on posts. */
async function project() {
  const db = await createDatabase();
  const url = urlFor(db);
  repo = GitRepo.create({ nodeModules: false });
  const r = repo;
  r.write('dbguard.config.json', JSON.stringify({ database: { url } }));
  r.commitMigrations(pick([USERS]), 'users');
  expect(r.dbguard(['hooks', 'install']).status).toBe(0);
  r.git('checkout', '-q', '-b', 'posts');
  r.commitMigrations(pick([USERS, POSTS, TAGS]), 'posts');
  const up = tool(r.root, url, 'up');
  expect(up.status, up.stderr).toBe(0);
  return { db, url, r };
}

describe('node-pg-migrate, with the real node-pg-migrate', () => {
  it('what the tool applied on a branch is named on the checkout back; dbguard rollback leaves what its up and down agree with', async () => {
    const { db, url, r } = await project();
    expect(await names(db)).toEqual(['1700000000000_create-users', '1700000000001_add-posts', '1700000000002_add-tags']);

    const checkout = r.git('checkout', 'main');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr).toContain('this branch lacks 2 migrations the database has applied: 1700000000002, 1700000000001');
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr + rolled.stdout).toBe(0);
    expect(await names(db)).toEqual(['1700000000000_create-users']);
    expect(await query(db, "SELECT to_regclass('posts') AS p, to_regclass('tags') AS t, to_regtype('post_state') AS e")).toEqual([{ p: null, t: null, e: null }]);

    // The tool's own up finds nothing to run on main, and its down undoes exactly the one migration left.
    const up = tool(r.root, url, 'up');
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toContain('No migrations to run!');
    expect(await names(db)).toEqual(['1700000000000_create-users']);
    r.git('checkout', '-q', 'posts');
    const status = r.dbguard(['status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ pending: [{ version: '1700000000001', filename: POSTS }, { version: '1700000000002', filename: TAGS }] });
    const upOnBranch = tool(r.root, url, 'up', '--dry-run');
    expect(upOnBranch.stdout).toContain(`> Migrating files:\n> - ${POSTS.replace('.sql', '')}\n> - ${TAGS.replace('.sql', '')}\n`);
    r.git('checkout', '-q', 'main');
    const down = tool(r.root, url, 'down');
    expect(down.status, down.stderr).toBe(0);
    expect(down.stdout).toContain('MIGRATION 1700000000000_create-users (DOWN)');
    expect(await names(db)).toEqual([]);
  });

  it('dbguard migrate writes the rows the tool writes: its up runs nothing, its down runs the down section, the table is its own', async () => {
    const { db, url, r } = await project();
    r.git('checkout', '-q', 'main');
    expect(r.dbguard(['rollback', '--yes']).status).toBe(0);
    r.git('checkout', '-q', 'posts');
    const migrated = r.dbguard(['migrate']);
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(await names(db)).toEqual(['1700000000000_create-users', '1700000000001_add-posts', '1700000000002_add-tags']);
    const up = tool(r.root, url, 'up');
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toContain('No migrations to run!');
    const down = tool(r.root, url, 'down');
    expect(down.status, down.stderr).toBe(0);
    expect(await names(db)).toEqual(['1700000000000_create-users', '1700000000001_add-posts']);
    expect(JSON.parse(r.dbguard(['status', '--json']).stdout)).toMatchObject({ pending: [{ version: '1700000000002', filename: TAGS }] });

    // From an empty database, the table dbguard creates is the one the tool creates.
    const columns = `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'pgmigrations' ORDER BY ordinal_position`;
    const theirs = await createDatabase();
    expect(tool(r.root, urlFor(theirs), 'up').status).toBe(0);
    const fresh = await createDatabase();
    r.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(fresh) } }));
    expect(r.dbguard(['migrate']).status).toBe(0);
    expect(await query(fresh, columns)).toEqual(await query(theirs, columns));
    expect(await names(fresh)).toEqual(await names(theirs));
  });

  it('a pending migration below an applied one is refused, as the tool\'s order check refuses it', async () => {
    const { db, url, r } = await project();
    await query(db, "DROP TABLE posts; DROP TYPE post_state; DELETE FROM pgmigrations WHERE name = '1700000000001_add-posts'");
    expect(tool(r.root, url, 'up').stderr).toContain('Not run migration 1700000000001_add-posts is preceding already run migration 1700000000002_add-tags');
    const migrate = r.dbguard(['migrate']);
    expect(migrate.status).not.toBe(0);
    expect(migrate.stderr).toContain('node-pg-migrate refuses it');
    expect(await names(db)).toEqual(['1700000000000_create-users', '1700000000002_add-tags']);
    // --replay rolls back what stands above it (its down captured first) and applies all in order: the tool's order check passes again.
    expect(r.dbguard(['capture']).status).toBe(0);
    const replay = r.dbguard(['migrate', '--replay']);
    expect(replay.status, replay.stderr).toBe(0);
    expect(await names(db)).toEqual(['1700000000000_create-users', '1700000000001_add-posts', '1700000000002_add-tags']);
    const up = tool(r.root, url, 'up');
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toContain('No migrations to run!');
  });

  it('dbguard takes the tool\'s advisory lock: while a node-pg-migrate run holds it, dbguard changes nothing and says whose it is', async () => {
    const { db, r } = await project();
    r.git('checkout', '-q', 'main');
    const holder = new pg.Client({ connectionString: urlFor(db) });
    await holder.connect();
    try {
      // What a node-pg-migrate run holds for its whole run (runner.ts lock()).
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [String(PG_MIGRATE_LOCK_ID)]);
      const busy = r.dbguard(['rollback', '--yes'], { DBGUARD_LOCK_TIMEOUT_MS: '300' });
      expect(busy.status).toBe(4);
      expect(busy.stderr).toContain('the project\'s migrator (node-pg-migrate\'s lock, backend pid');
      expect(await names(db)).toHaveLength(3);
    } finally {
      await holder.end();
    }
  });

  it('a JavaScript migration is listed and tracked, never a reason to refuse the folder: migrate stops before it, the tool runs it', async () => {
    const db = await createDatabase();
    const url = urlFor(db);
    repo = GitRepo.create({ nodeModules: false });
    const r = repo;
    r.write('dbguard.config.json', JSON.stringify({ database: { url } }));
    r.commitMigrations(pick([USERS, POSTS, SEED]), 'main');
    const listed = r.dbguard(['status', '--json']);
    expect(listed.status, listed.stderr).not.toBe(2);
    expect(JSON.parse(listed.stdout)).toMatchObject({ pending: [{ version: '1700000000000' }, { version: '1700000000001' }, { version: '1700000000003', filename: SEED }] });
    const stops = r.dbguard(['migrate']);
    expect(stops.status).toBe(3);
    expect(stops.stderr).toContain(`error[NOT_RUNNABLE] ${SEED} is a JavaScript or TypeScript migration, which dbguard cannot run; applied 2 before it`);
    expect(stops.stderr).toContain('node-pg-migrate up');
    const up = tool(r.root, url, 'up');
    expect(up.status, up.stderr).toBe(0);
    expect(await names(db)).toEqual(['1700000000000_create-users', '1700000000001_add-posts', '1700000000003_seed-admin']);
    expect(r.dbguard(['capture']).status).toBe(0);
    const status = r.dbguard(['status']);
    expect(status.status, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toContain(`no down SQL  1700000000003  ${SEED}  a JavaScript or TypeScript migration, which dbguard cannot run`);
    const lint = r.dbguard(['lint']);
    expect(lint.stdout + lint.stderr).not.toContain('invalid');
  });

  it('a JavaScript migration the tool applied on a branch is named on the checkout back, and a rollback through it refuses, naming the tool', async () => {
    const { db, url, r } = await project();
    r.commitMigrations(pick([USERS, POSTS, TAGS, SEED]), 'seed');
    expect(tool(r.root, url, 'up').status).toBe(0);
    const checkout = r.git('checkout', 'main');
    expect(checkout.stderr).toContain('this branch lacks 3 migrations the database has applied: 1700000000003, 1700000000002, 1700000000001');
    expect(checkout.stderr).toContain('rollback would refuse (NO_DOWN_SQL): no down SQL for 1700000000003 (a JavaScript or TypeScript migration, which dbguard cannot run)');
    const refused = r.dbguard(['rollback', '--yes']);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain('on a branch that has it, npx node-pg-migrate down rolls it back');
    expect(await names(db)).toHaveLength(4);
    // As it says: the tool undoes it where its file is, then dbguard rolls back the rest.
    r.git('checkout', '-q', 'posts');
    expect(tool(r.root, url, 'down').status).toBe(0);
    r.git('checkout', '-q', 'main');
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stderr).toBe(0);
    expect(await names(db)).toEqual(['1700000000000_create-users']);
    expect(tool(r.root, url, 'up').stdout).toContain('No migrations to run!');
  });

  it('a file with a marker the tool misreads is named, line and all, and nothing is applied', async () => {
    const db = await createDatabase();
    repo = GitRepo.create({ nodeModules: false });
    const r = repo;
    r.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, format: 'node-pg-migrate' }));
    r.commitMigrations({ ...pick([USERS]), '1700000000005_bad.sql': '-- Up Migration\nCREATE TABLE bad ();\n--UpMigration\nDROP TABLE bad;\n' }, 'bad');
    const migrate = r.dbguard(['migrate']);
    expect(migrate.status).toBe(2);
    expect(migrate.stderr).toContain('error[MIGRATION_FILE_INVALID] 1700000000005_bad.sql line 3: "--UpMigration" is not a marker node-pg-migrate reads');
    expect(await query(db, "SELECT to_regclass('users') AS u")).toEqual([{ u: null }]);
  });

  it('with no migration file yet, its tracking table tells the format', async () => {
    const { db } = await project();
    repo?.cleanup();
    repo = GitRepo.create({ nodeModules: false });
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    const status = repo.dbguard(['status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ schemaMigrations: { version: '1700000000002', applied: ['1700000000000', '1700000000001', '1700000000002'] } });
  });
});
