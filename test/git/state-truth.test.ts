/**
 * Issue 9: what dbguard records and plans must match the database, on real git histories — the
 * project's own migrator applying without `dbguard capture`, a down file fixed after the fact.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaSnapshot, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { base, freshSchemaOf, GitRepo, repoOnNewDatabase } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

async function repoWithDb(config: Record<string, unknown> = {}): Promise<{ repo: GitRepo; db: string }> {
  const { repo, db } = await repoOnNewDatabase(repos, base, 'base', config);
  expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
  expect(repo.dbguard(['migrate']).status).toBe(0);
  return { repo, db };
}

/** What golang-migrate's `migrate up` does, without dbguard: each up file, then schema_migrations. */
async function appMigrate(repo: GitRepo, db: string, versions: number[]): Promise<void> {
  for (const version of versions) {
    const file = readFileSync(join(repo.root, 'migrations', `${version}_create_t${version}.up.sql`), 'utf8');
    await query(db, `${file}; DELETE FROM schema_migrations; INSERT INTO schema_migrations VALUES (${version}, false);`);
  }
}


describe('untracked intermediates (issue 9, item 1)', () => {
  it('the app applied 446–448 without capture; back on main, rollback undoes all three, from git history', async () => {
    const { repo, db } = await repoWithDb();
    repo.git('checkout', '-q', '-b', 'feature');
    const feature = { ...base, ...tableMigration(446, 't446'), ...tableMigration(447, 't447'), ...tableMigration(448, 't448') };
    repo.commitMigrations(feature, 'feature: 446-448');
    await appMigrate(repo, db, [446, 447, 448]);
    await query(db, "INSERT INTO chat (note) VALUES ('kept')");
    repo.git('checkout', '-q', 'main');

    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    // The checkout's hook asked the database and kept what it found, with the down SQL of feature's tree (issue 26.3).
    expect(status.plan.steps.map((s: { version: string; downSqlSource: string }) => [s.version, s.downSqlSource]))
      .toEqual([['448', 'tracking-table'], ['447', 'tracking-table'], ['446', 'tracking-table']]);
    expect(await query(db, 'SELECT version::text, source FROM _dbguard.applied_migrations WHERE version > 445 ORDER BY version'))
      .toEqual([{ version: '446', source: 'previous-tree' }, { version: '447', source: 'previous-tree' }, { version: '448', source: 'previous-tree' }]);
    expect(status.plan.to).toBe('445');

    const rollback = repo.dbguard(['rollback', '--yes']);
    expect(rollback.status, rollback.stderr).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
    expect(await schemaSnapshot(db)).toEqual(await freshSchemaOf(repos, base));
    expect(await query(db, 'SELECT note FROM chat')).toEqual([{ note: 'kept' }]);
    expect(repo.dbguard(['migrate']).status).toBe(0); // the next migrate works (it used to fail and mark dirty)
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });

  it('refuses and changes nothing when an intermediate\'s down SQL is found nowhere', async () => {
    const { repo, db } = await repoWithDb();
    repo.git('checkout', '-q', '-b', 'feature');
    const { ['447_create_t447.down.sql']: _gone, ...noDown447 } = { ...base, ...tableMigration(446, 't446'), ...tableMigration(447, 't447'), ...tableMigration(448, 't448') };
    repo.commitMigrations(noDown447, 'feature: 447 has no down file');
    await appMigrate(repo, db, [446, 447, 448]);
    repo.git('checkout', '-q', 'main');
    const before = await schemaSnapshot(db);
    const rollback = repo.dbguard(['rollback', '--yes']);
    expect(rollback.status).toBe(3);
    expect(rollback.stderr).toContain('error[NO_DOWN_SQL]');
    expect(rollback.stderr).toContain('447');
    expect(await schemaVersion(db)).toEqual({ version: '448', dirty: false });
    expect(await schemaSnapshot(db)).toEqual(before);
  });
});

describe('git paths as they are (issue 9, item 9)', () => {
  it('finds down SQL in history for a file named with non-ASCII characters and quotes', async () => {
    const { repo, db } = await repoWithDb();
    repo.git('checkout', '-q', '-b', 'feature');
    const name = '446_añadir_"café"';
    repo.commitMigrations({ ...base, [`${name}.up.sql`]: 'CREATE TABLE cafe (id int);', [`${name}.down.sql`]: 'DROP TABLE cafe;' }, 'feature');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await query(db, 'UPDATE _dbguard.applied_migrations SET down_sql = NULL WHERE version = 446');
    repo.git('tag', 'keep');
    repo.git('checkout', '-q', 'main');
    repo.git('branch', '-D', 'feature');
    const plan = JSON.parse(repo.dbguard(['rollback', '--dry-run', '--json']).stdout).plan;
    expect(plan.steps).toMatchObject([{ version: '446', filename: `${name}.up.sql`, downSqlSource: 'git-history', downSql: 'DROP TABLE cafe;' }]);
    expect(repo.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });
});

describe('a fixed down file is used (issue 9, item 2)', () => {
  it('after a failed step, the down file fixed and committed on the branch wins over the stored copy', async () => {
    const { repo, db } = await repoWithDb();
    repo.git('checkout', '-q', '-b', 'feature');
    const broken = { ...base, '446_create_t446.up.sql': 'CREATE TABLE t446 (id int);', '446_create_t446.down.sql': 'DROP TABLE t_446_typo;' };
    repo.commitMigrations(broken, 'feature: 446 with a broken down');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', 'main');
    const failed = repo.dbguard(['rollback', '--yes']);
    expect(failed.status).toBe(4);
    expect(failed.stderr).toContain('fix the down SQL of 446_create_t446.up.sql');
    expect(await schemaVersion(db)).toEqual({ version: '446', dirty: false });

    repo.git('checkout', '-q', 'feature');
    repo.commitMigrations({ ...broken, '446_create_t446.down.sql': 'DROP TABLE t446;' }, 'fix the down file');
    repo.git('checkout', '-q', 'main');
    const plan = JSON.parse(repo.dbguard(['rollback', '--dry-run', '--json']).stdout).plan;
    expect(plan.steps).toMatchObject([{ version: '446', downSql: 'DROP TABLE t446;', note: 'down SQL changed since applied' }]);
    expect(repo.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });

  it('a down file put back into the folder on this branch is used for its phantom', async () => {
    const { repo, db } = await repoWithDb();
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...base, '446_create_t446.up.sql': 'CREATE TABLE t446 (id int);', '446_create_t446.down.sql': 'DROP TABLE nope;' }, 'feature');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', 'main');
    repo.write('migrations/446_create_t446.down.sql', 'DROP TABLE t446;');
    const plan = JSON.parse(repo.dbguard(['rollback', '--dry-run', '--json']).stdout).plan;
    expect(plan.steps).toMatchObject([{ version: '446', downSqlSource: 'working-tree', downSql: 'DROP TABLE t446;' }]);
    expect(repo.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });
});

describe('what the cache and the folder say (issue 9, items 3, 4, 6, 7, 17)', () => {
  it('a lost cache: the hook and check ask the database instead of staying silent; status rebuilds the cache', async () => {
    const { repo } = await repoWithDb();
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...base, ...tableMigration(446, 't446') }, 'feature');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', 'main'); // warns (cache present)
    rmSync(join(repo.root, '.dbguard'), { recursive: true, force: true });
    expect(repo.git('checkout', 'feature').stderr).not.toContain('lacks');
    rmSync(join(repo.root, '.dbguard'), { recursive: true, force: true });
    const toMain = repo.git('checkout', 'main');
    expect(toMain.stderr).toContain('lacks 1 migration the database has applied: 446 (checked the database: the cache was missing)');
    rmSync(join(repo.root, '.dbguard'), { recursive: true, force: true });
    const check = repo.dbguard(['check']);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('not on this branch: 446');
    rmSync(join(repo.root, '.dbguard'), { recursive: true, force: true });
    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect(status.cacheRebuilt).toBe(true);
    expect(repo.dbguard(['check']).status).toBe(1); // the rebuilt cache knows 446
  });

  it('a branch with no migrations folder is an empty catalog: every applied migration is a phantom', async () => {
    const { repo, db } = await repoWithDb();
    repo.git('checkout', '-q', '--orphan', 'docs-site');
    repo.git('rm', '-q', '-r', '--cached', '.');
    rmSync(join(repo.root, 'migrations'), { recursive: true, force: true });
    repo.write('index.html', '<h1>docs</h1>');
    repo.git('add', 'index.html', 'dbguard.config.json', '.gitignore');
    repo.git('commit', '-q', '-m', 'docs site');
    repo.git('checkout', '-q', 'main');
    const toDocs = repo.git('checkout', 'docs-site');
    expect(toDocs.stderr).toContain('lacks 1 migration the database has applied: 445');
    const plan = JSON.parse(repo.dbguard(['rollback', '--dry-run', '--json']).stdout).plan;
    expect(plan).toMatchObject({ kind: 'rollback', to: null });
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });

  it('a fresh project: status counts what migrate would apply', async () => {
    const db = await createDatabase();
    const repo = GitRepo.create();
    repos.push(repo);
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    repo.commitMigrations({ ...base, ...tableMigration(446, 't446') }, 'two migrations');
    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect(status.pending.map((p: { version: string }) => p.version)).toEqual(['445', '446']);
    expect(status.next).toMatch(/^dbguard migrate/);
    expect(JSON.parse(repo.dbguard(['migrate', '--dry-run', '--json']).stdout).pending).toHaveLength(2);
  });

  it('a renamed applied migration (git mv, same content) is adopted; an edited one is reported', async () => {
    const { repo, db } = await repoWithDb();
    repo.git('mv', 'migrations/445_create_chat.up.sql', 'migrations/445_create_chat_table.up.sql');
    repo.git('mv', 'migrations/445_create_chat.down.sql', 'migrations/445_create_chat_table.down.sql');
    repo.git('commit', '-q', '-m', 'rename');
    const check = repo.dbguard(['check']);
    expect(check.status).toBe(0);
    expect(check.stdout).toContain('same content: adopted');
    expect(JSON.parse(repo.dbguard(['rollback', '--dry-run', '--json']).stdout).plan.kind).toBe('clean');
    // Every command that reads the applied set adopts it (issue 20.3): migrate used to say DATABASE_AHEAD.
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout)).toMatchObject({ phantoms: [], pending: [] });
    expect(repo.dbguard(['migrate', '--dry-run']).stdout).toContain('nothing to migrate');
    const migrated = repo.dbguard(['migrate']);
    expect([migrated.status, migrated.stderr]).toEqual([0, '']);
    expect(repo.dbguard(['capture']).status).toBe(0);
    expect(await query(db, 'SELECT filename FROM _dbguard.applied_migrations')).toEqual([{ filename: '445_create_chat_table.up.sql' }]);

    repo.write('migrations/445_create_chat_table.up.sql', 'CREATE TABLE chat (id serial PRIMARY KEY, note text, extra int);');
    const edited = repo.dbguard(['check']);
    expect(edited.status).toBe(1);
    expect(edited.stdout).toContain('edited since applied');
    const status = repo.dbguard(['status', '--json']);
    expect(status.status).toBe(1);
    expect(JSON.parse(status.stdout).edited).toEqual([{ version: '445', filename: '445_create_chat_table.up.sql' }]);
    expect(repo.dbguard(['capture', '--accept-edits']).status).toBe(0);
    expect(repo.dbguard(['check']).status).toBe(0);
  });
});
