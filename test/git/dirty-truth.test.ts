/**
 * Issue 25, items 4 and 6: a dirty database (a migration only half applied, golang-migrate's flag) is
 * never called clean or applied — not by `check`, not from the cache, not by `dbguard run`'s capture.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { base, GitRepo, repoOnNewDatabase } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

async function repoWithDb(): Promise<{ repo: GitRepo; db: string }> {
  const { repo, db } = await repoOnNewDatabase(repos, base, 'base');
  expect(repo.dbguard(['migrate']).status).toBe(0);
  return { repo, db };
}

describe('check: a dirty database is not clean (issue 25.4)', () => {
  it('the hook does not propose a rollback of a database the cache last saw dirty: it names force (adversarial pass)', async () => {
    const { repo, db } = await repoWithDb();
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...base, ...tableMigration(446, 't446'), ...tableMigration(447, 't447') }, 'feature');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await query(db, 'UPDATE schema_migrations SET dirty = true');
    expect(repo.dbguard(['check']).status).toBe(3); // the cache now keeps the dirty version
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain('rollback would refuse (DIRTY)');
    expect(checkout.stderr).toContain('next: dbguard force 447');
    expect(checkout.stderr).not.toContain('dbguard rollback   roll');
    expect(repo.dbguard(['rollback', '--yes']).stderr).toContain('error[DIRTY]');
  });

  it('exit 3 like status, ok:false, names the version and force; offline too, until force clears it', async () => {
    const { repo, db } = await repoWithDb();
    expect(repo.dbguard(['check']).status).toBe(0);
    // What the app's migrator leaves when 445's re-run failed half way (golang-migrate's flag).
    await query(db, 'UPDATE schema_migrations SET dirty = true');
    expect(repo.dbguard(['status']).status).toBe(3);

    const check = repo.dbguard(['check']);
    expect(check.status).toBe(3);
    expect(check.stdout).not.toContain('clean');
    expect(check.stdout).toContain('dirty: the database is dirty at version 445: a migration was only half applied');
    expect(check.stdout).toContain('next: dbguard force 445   (after finishing or undoing by hand, e.g. in psql, what migration 445 left half done)');
    const json = JSON.parse(repo.dbguard(['check', '--json']).stdout);
    expect(json).toMatchObject({ ok: false, checkedDatabase: true, dirty: '445' });

    // The cache keeps what the database said: an offline check (or a stopped server) does not say clean.
    const offline = repo.dbguard(['check', '--offline']);
    expect(offline.status).toBe(3);
    expect(offline.stdout).toContain('dirty: the database was dirty at version 445 when dbguard last asked it');
    expect(JSON.parse(repo.dbguard(['check', '--offline', '--json']).stdout)).toMatchObject({ ok: false, checkedDatabase: false, dirty: '445' });

    expect(repo.dbguard(['force', '445']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
    expect(repo.dbguard(['check', '--offline']).status).toBe(0);
    expect(repo.dbguard(['check']).status).toBe(0);
  });

  it('force refuses a version no migration file and no tracking row has, changing nothing (adversarial pass)', async () => {
    const { repo, db } = await repoWithDb();
    repo.commitMigrations({ ...base, ...tableMigration(446, 't446') }, '446');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await query(db, 'UPDATE schema_migrations SET dirty = true');
    const refused = repo.dbguard(['force', '99']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('error[FORCE_UNKNOWN_VERSION] no migration has version 99 (no file, no tracking row): forced, the database would be at a version nothing can roll back or apply from; nothing was changed');
    expect(refused.stderr).toContain('next: dbguard force 446   (the dirty version, once repaired), or dbguard force 445   (if it left nothing of 446); versions known, newest first: 446, 445, or none');
    expect(await schemaVersion(db)).toEqual({ version: '446', dirty: true });
    const json = JSON.parse(repo.dbguard(['force', '99', '--json']).stdout);
    expect(json).toMatchObject({ ok: false, error: { code: 'FORCE_UNKNOWN_VERSION' } });
    expect(repo.dbguard(['force', '445']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });

  it('a migrate whose step failed outside a transaction leaves the cache saying dirty, so check --offline does too', async () => {
    const { repo } = await repoWithDb();
    repo.commitMigrations({ ...base, '446_half.up.sql': '-- dbguard:no-transaction\nCREATE TABLE half (id int);\nSELECT 1/0;', '446_half.down.sql': 'DROP TABLE half;' }, '446');
    const migrate = repo.dbguard(['migrate']);
    expect(migrate.status).toBe(4);
    expect(migrate.stderr).toContain('the database is dirty at version 446');
    const offline = repo.dbguard(['check', '--offline']);
    expect(offline.status).toBe(3);
    expect(offline.stdout).toContain('dirty: the database was dirty at version 446 when dbguard last asked it');
    expect(offline.stdout).toContain('next: dbguard force 446');
  });

  it('a lost cache: check asks the database and says dirty (exit 3)', async () => {
    const { repo, db } = await repoWithDb();
    await query(db, 'UPDATE schema_migrations SET dirty = true');
    rmSync(join(repo.root, '.dbguard'), { recursive: true, force: true });
    const check = repo.dbguard(['check']);
    expect(check.status).toBe(3);
    expect(check.stdout).toContain('dirty at version 445');
  });
});

const APP = resolve(import.meta.dirname, '..', 'fixtures', 'go-style-app.mjs');

describe('dbguard run: a migration the app left dirty is not applied (issue 25.6)', () => {
  it('is neither captured nor given its stash back; run says it failed; after repair and force the rows come back', async () => {
    const db = await createDatabase();
    const repo = GitRepo.create();
    repos.push(repo);
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    const main = { ...tableMigration(1, 'one'), ...tableMigration(2, 'two'), ...tableMigration(3, 'three') };
    repo.commitMigrations(main, 'main: 1-3');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...main, ...tableMigration(4, 'four'), ...tableMigration(5, 'five') }, 'feature: 4, 5');
    // The app applies its own migrations (golang-migrate's way: dirty while each one runs), then exits.
    const app = (['run', '--', process.execPath, APP, 'migrations']);
    const env = { DATABASE_URL: urlFor(db), APP_EXIT_AFTER_MIGRATE: '1' };
    expect(repo.dbguard(app, env).stderr).toContain('dbguard: captured down SQL for 4, 5 as they were applied');
    await query(db, "INSERT INTO five (note) VALUES ('c1'), ('c2')");
    repo.git('checkout', '-q', 'main');
    expect(repo.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(await query(db, 'SELECT version::int, row_count::int AS rows FROM _dbguard.stash')).toEqual([{ version: 5, rows: 2 }]);

    // Someone made a table "five" by hand: the app's 5 fails half way and leaves the database dirty at 5.
    await query(db, 'CREATE TABLE five (made_by_hand int)');
    repo.git('checkout', '-q', 'feature');
    const failed = repo.dbguard(app, env);
    expect(failed.status).toBe(1); // the app's own exit code
    expect(failed.stderr).toContain('dbguard: captured down SQL for 4 as it was applied');
    expect(failed.stderr).toContain('dbguard: 5 failed: the database is dirty at 5 (a migration was only half applied), so it is not recorded as applied');
    expect(failed.stderr).toContain('next: dbguard force 5');
    expect(await schemaVersion(db)).toEqual({ version: '5', dirty: true });
    expect(await query(db, 'SELECT version::int FROM _dbguard.applied_migrations ORDER BY 1')).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }]);
    // The stash waits for 5, as status says.
    expect(await query(db, 'SELECT version::int, row_count::int AS rows FROM _dbguard.stash')).toEqual([{ version: 5, rows: 2 }]);
    const status = repo.dbguard(['status']);
    expect(status.status).toBe(3);
    expect(status.stdout).toContain('stash        1 kept');
    expect(status.stdout).toContain('back when applied again');
    expect(status.stdout).not.toContain('will not come back by itself');

    // Started again before the repair: not started, and told why (not "migrations this branch lacks").
    const refused = repo.dbguard(app, env);
    expect(refused.status).toBe(1);
    expect(refused.stdout).not.toContain('migrated');
    expect(refused.stderr).toContain('dbguard: not started: the database is dirty at 5 (a migration was only half applied)');
    expect(refused.stderr).toContain('dbguard force 5   (after finishing or undoing by hand, e.g. in psql, what migration 5 left half done)');
    expect(refused.stderr).not.toContain('--rollback');

    // The repair: the hand-made table goes, nothing of 5 stayed (its one Exec rolled back), so force 4.
    await query(db, 'DROP TABLE five');
    expect(repo.dbguard(['force', '4']).status).toBe(0);
    const again = repo.dbguard(app, env);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain('dbguard: captured down SQL for 5 as it was applied');
    expect(await query(db, 'SELECT note FROM five ORDER BY id')).toEqual([{ note: 'c1' }, { note: 'c2' }]);
    expect(await query(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 0 }]);
  });
});
