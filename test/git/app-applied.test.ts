/**
 * Issue 25.1: what the app's own migrator applied (golang-migrate's way, without `dbguard capture`) is
 * applied — §3's untracked intermediates. status, check and migrate agree on it, and migrate never runs
 * it again; the advice is `dbguard capture`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { query, schemaVersion } from '../helpers/db.js';
import { GitRepo, repoOnNewDatabase } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

const main = {
  '1_users.up.sql': 'CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);',
  '1_users.down.sql': 'DROP TABLE users;',
  '2_seed.up.sql': "INSERT INTO users (name) VALUES ('alice');",
  '2_seed.down.sql': "DELETE FROM users WHERE name = 'alice';",
  '3_tags.up.sql': 'CREATE TABLE tags (id serial PRIMARY KEY, label text);',
  '3_tags.down.sql': 'DROP TABLE tags;',
};
const feature = {
  ...main,
  '4_email.up.sql': 'ALTER TABLE users ADD COLUMN email text;',
  '4_email.down.sql': 'ALTER TABLE users DROP COLUMN email;',
  // Not idempotent: run twice, the name changes twice.
  '5_shout.up.sql': "UPDATE users SET name = name || '!';",
  '5_shout.down.sql': "UPDATE users SET name = rtrim(name, '!');",
};

/** golang-migrate's `migrate up` as the app runs it, without dbguard: each up file, then schema_migrations. */
async function appMigrate(repo: GitRepo, db: string, versions: number[]): Promise<void> {
  await query(db, 'CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)');
  const files = readdirSync(join(repo.root, 'migrations'));
  for (const version of versions) {
    const file = files.find((f) => f.startsWith(`${version}_`) && f.endsWith('.up.sql')) as string;
    await query(db, `${readFileSync(join(repo.root, 'migrations', file), 'utf8')}; DELETE FROM schema_migrations; INSERT INTO schema_migrations VALUES (${version}, false);`);
  }
}

async function project(): Promise<{ repo: GitRepo; db: string }> {
  const { repo, db } = await repoOnNewDatabase(repos, main, 'main: 1-3');
  return { repo, db };
}

const versionsOf = (list: Array<{ version: string }>) => list.map((m) => m.version);

describe('what the app applied itself is applied (issue 25.1)', () => {
  it('feature branch: main 1–3 captured, the app applies 4 and 5; status, check and migrate agree, nothing runs twice', async () => {
    const { repo, db } = await project();
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations(feature, 'feature: 4, 5');
    await appMigrate(repo, db, [4, 5]);
    expect(await query(db, 'SELECT name FROM users')).toEqual([{ name: 'alice!' }]);

    const status = repo.dbguard(['status', '--json']);
    const json = JSON.parse(status.stdout);
    expect([versionsOf(json.pending), versionsOf(json.outOfOrder)]).toEqual([[], []]);
    expect(versionsOf(json.appliedUncaptured)).toEqual(['4', '5']);
    expect(json.next).toMatch(/^dbguard capture/);
    const text = repo.dbguard(['status']).stdout;
    expect(text).not.toContain('out of order');
    expect(text).toContain('uncaptured   4, 5  (applied without dbguard seeing it: dbguard capture records their down SQL)');

    const check = repo.dbguard(['check']);
    expect(check.stdout).not.toContain('pending');
    expect(check.stdout).toContain('4, 5 applied without dbguard seeing it: dbguard capture records their down SQL');
    expect(JSON.parse(repo.dbguard(['check', '--json']).stdout)).toMatchObject({ pending: [], appliedUncaptured: [{ version: '4' }, { version: '5' }] });

    const dry = JSON.parse(repo.dbguard(['migrate', '--dry-run', '--json']).stdout);
    expect(dry.pending).toEqual([]);
    const migrated = repo.dbguard(['migrate']);
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(migrated.stdout).toContain('nothing to migrate');
    expect(migrated.stdout).toContain('captured the down SQL of 4, 5 (applied without dbguard seeing it)');
    expect(await query(db, 'SELECT name FROM users')).toEqual([{ name: 'alice!' }]);
    expect(await schemaVersion(db)).toEqual({ version: '5', dirty: false });
    // migrate captured them on the way: they can be rolled back with their own down SQL.
    expect(await query(db, 'SELECT version::text AS v FROM _dbguard.applied_migrations WHERE down_sql IS NOT NULL ORDER BY version')).toEqual(['1', '2', '3', '4', '5'].map((v) => ({ v })));
  });

  it('adopting an app-migrated database: the app applied 1–3, then dbguard migrate runs none of them again', async () => {
    const { repo, db } = await project();
    await appMigrate(repo, db, [1, 2, 3]);
    expect(JSON.parse(repo.dbguard(['migrate', '--dry-run', '--json']).stdout).pending).toEqual([]);
    const migrated = repo.dbguard(['migrate']);
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(migrated.stdout).toContain('nothing to migrate');
    expect(await query(db, 'SELECT name FROM users')).toEqual([{ name: 'alice' }]);
    expect(await schemaVersion(db)).toEqual({ version: '3', dirty: false });
    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect([versionsOf(status.pending), versionsOf(status.outOfOrder), versionsOf(status.appliedUncaptured), status.next]).toEqual([[], [], [], null]);
  });

  it('status on an app-migrated database with no cache yet: it captures while rebuilding the cache, and says nothing is left to do', async () => {
    const { repo, db } = await project();
    await appMigrate(repo, db, [1, 2, 3]);
    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect(status.cacheRebuilt).toBe(true);
    expect([versionsOf(status.pending), versionsOf(status.outOfOrder), versionsOf(status.appliedUncaptured), status.next]).toEqual([[], [], [], null]);
    expect(await query(db, 'SELECT count(*)::int AS n FROM _dbguard.applied_migrations WHERE down_sql IS NOT NULL')).toEqual([{ n: 3 }]);
  });

  it('status says the cache once: rebuilt, not "none yet (first run)" then "was missing" (adversarial pass)', async () => {
    const { repo, db } = await project();
    await appMigrate(repo, db, [1, 2, 3]);
    const status = repo.dbguard(['status']);
    expect(status.stdout.split('\n').filter((line) => line.startsWith('  cache '))).toEqual(['  cache        was missing: rebuilt from the database (3 applied)']);
    expect(repo.dbguard(['status']).stdout.split('\n').filter((line) => line.startsWith('  cache '))).toEqual(['  cache        3 applied, all down SQL captured']);
  });
});

describe('capture after the app applied a migration again (adversarial pass)', () => {
  it('a row the app wrote under a stashed key stays, and the stashed row stays in the stash', async () => {
    const { repo, db } = await repoOnNewDatabase(repos, main, 'main');
    repo.git('checkout', '-q', '-b', 'f');
    repo.commitMigrations({ ...main, '4_notes.up.sql': 'CREATE TABLE notes (id int PRIMARY KEY, v text);', '4_notes.down.sql': 'DROP TABLE notes;' }, 'f');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await query(db, "INSERT INTO notes VALUES (1, 'old')");
    repo.git('checkout', '-q', 'main');
    const rolledBack = repo.dbguard(['rollback', '--yes']);
    expect(rolledBack.status, rolledBack.stderr).toBe(0);
    repo.git('checkout', '-q', 'f');
    // The app applies 4 itself and writes a row of its own under the same key before dbguard looks.
    await appMigrate(repo, db, [4]);
    await query(db, "INSERT INTO notes VALUES (1, 'app-new')");

    const captured = repo.dbguard(['capture']);
    expect(captured.status, captured.stderr).toBe(0);
    expect(await query(db, 'SELECT id, v FROM notes ORDER BY id')).toEqual([{ id: 1, v: 'app-new' }]);
    const stash = JSON.parse(repo.dbguard(['stash', 'list', '--json']).stdout);
    expect(stash.entries.length).toBe(1);
    expect(repo.dbguard(['stash', 'show', String(stash.entries[0].id)]).stdout).toContain('old');
  });
});

describe('migrate --reapply of an edited up that fails (adversarial pass)', () => {
  it('is MIGRATION_FAILED naming the file, where the database is and dbguard undo, never INTERNAL', async () => {
    const { repo, db } = await repoOnNewDatabase(repos, main, 'main');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.write('migrations/3_tags.up.sql', 'CREATE TABLE tags (id serial PRIMARY KEY, label text); SELEC 1;');
    const failed = repo.dbguard(['migrate', '--reapply', '3']);
    expect(failed.status).toBe(4);
    expect(failed.stderr).toContain('error[MIGRATION_FAILED] re-applying stopped at applying 3_tags.up.sql');
    expect(failed.stderr).toContain('the database is at version 2');
    expect(failed.stderr).toContain('next: dbguard undo');
    expect(failed.stderr).not.toContain('INTERNAL');
    expect(await schemaVersion(db)).toEqual({ version: '2', dirty: false });
    expect(repo.dbguard(['undo', '--disconnect']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '3', dirty: false });
  });
});
