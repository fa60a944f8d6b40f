import { existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { base, branchA, branchedRepo, GitRepo } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

async function twoBranches(onConflict: 'warn' | 'rollback' = 'warn') {
  const made = await branchedRepo({ onConflict });
  repos.push(made.repo);
  return made;
}

describe('post-checkout hook', () => {
  it('warns, naming the phantom versions and both choices, when the new branch lacks applied migrations', async () => {
    const { repo, db } = await twoBranches();
    const checkout = repo.git('checkout', 'b');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr).toContain('dbguard: this branch lacks 2 migrations the database has applied: 447, 446');
    expect(checkout.stderr).toContain('dbguard rollback');
    expect(checkout.stderr).toContain('dbguard reset');
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
    expect(repo.dbguard(['check']).status).toBe(1);
  });

  it('stays silent on a clean checkout, and only mentions migrations that are new here', async () => {
    const { repo } = await twoBranches();
    repo.git('checkout', '-q', '-b', 'a2');
    repo.commitMigrations({ ...branchA, ...tableMigration(448, 'newer') }, 'a2 adds one');
    repo.git('checkout', '-q', 'a');
    const toNewer = repo.git('checkout', 'a2');
    expect(toNewer.status).toBe(0);
    expect(toNewer.stderr).not.toContain('lacks');
    expect(toNewer.stderr).toContain('dbguard: 1 new migration here (448): dbguard migrate');
    expect(repo.git('checkout', 'a').stderr).not.toContain('dbguard');
    const fileCheckout = repo.git('checkout', 'b', '--', 'migrations');
    expect(fileCheckout.stderr).not.toContain('dbguard'); // a file checkout (flag 0) is not a branch switch
  });

  it('warns after a checkout that changes the folder even when the last check was remembered as clean', async () => {
    const { repo } = await twoBranches();
    const state = join(repo.root, '.dbguard');
    const cache = readdirSync(state, { recursive: true }).map(String).find((f) => f.endsWith('migration_cache.json')) as string;
    repo.git('checkout', '-q', '-b', 'a-docs');
    repo.commitFile('NOTES.md', 'docs only', 'docs');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(state, cache), hourAgo, hourAgo);
    utimesSync(join(repo.root, 'migrations'), hourAgo, hourAgo);
    expect(repo.git('checkout', 'a').stderr).not.toContain('dbguard'); // same migrations: clean, remembered
    const stamp = JSON.parse(readFileSync(join(state, dirname(cache), 'clean-stamp.json'), 'utf8'));
    expect(stamp).toMatchObject({ v: 3, uncaptured: '', clean: { dir: join(repo.root, 'migrations') } });
    const checkout = repo.git('checkout', 'b');
    expect(checkout.stderr).toContain('dbguard: this branch lacks 2 migrations the database has applied: 447, 446');
  });

  it('rolls back right away with onConflict "rollback", leaving the common ancestor and dbguard check clean', async () => {
    const { repo, db } = await twoBranches('rollback');
    await query(db, "INSERT INTO chat (note) VALUES ('still here')");
    const checkout = repo.git('checkout', 'b');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr).toContain('rolled back 2 migrations; database at 445');
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
    expect(await query(db, 'SELECT note FROM chat')).toEqual([{ note: 'still here' }]);
    expect(repo.dbguard(['check']).status).toBe(0);
    // b's own migration now applies on top of the ancestor.
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '450', dirty: false });
  });

  it('auto-rollback starts the embedded database when it is stopped, and stops it again', async () => {
    const repo = GitRepo.create();
    repos.push(repo);
    repo.write('dbguard.config.json', JSON.stringify({ onConflict: 'rollback' })); // embedded default
    repo.commitMigrations(base, 'base');
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'a');
    repo.commitMigrations(branchA, 'a');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(JSON.parse(repo.dbguard(['db', 'status', '--json']).stdout)).toMatchObject({ kind: 'embedded', running: false });
    const checkout = repo.git('checkout', 'main');
    expect(checkout.status).toBe(0);
    expect(checkout.stderr).toContain('rolled back 2 migrations; database at 445');
    expect(JSON.parse(repo.dbguard(['db', 'status', '--json']).stdout)).toMatchObject({ running: false });
    expect(repo.dbguard(['check']).status).toBe(0);
    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect(status.plan).toEqual({ kind: 'clean', current: '445' });
  });

  it('captures down SQL from the previous branch\'s tree when the tracking table lacks it', async () => {
    const db = await createDatabase();
    const repo = GitRepo.create();
    repos.push(repo);
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, onConflict: 'rollback' }));
    repo.commitMigrations(base, 'base');
    repo.dbguard(['hooks', 'install']);
    repo.git('checkout', '-q', '-b', 'a');
    // 446 is applied before anyone wrote its down file: nothing to capture then.
    repo.commitMigrations({ ...base, '446_add.up.sql': 'CREATE TABLE a_one (id int);' }, 'a: 446 up only');
    expect(repo.dbguard(['migrate']).stderr).toContain('no down SQL for 446 (no down file)');
    expect(await query(db, 'SELECT down_sql FROM _dbguard.applied_migrations WHERE version = 446')).toEqual([{ down_sql: null }]);
    // The down file lands later, on branch a only.
    repo.commitMigrations({ ...base, '446_add.up.sql': 'CREATE TABLE a_one (id int);', '446_add.down.sql': 'DROP TABLE a_one;' }, 'a: 446 down');

    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toMatch(/captured down SQL for 446 from [0-9a-f]{12}/);
    expect(checkout.stderr).toContain('rolled back 1 migration; database at 445');
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
    expect(await query(db, "SELECT to_regclass('a_one') AS t")).toEqual([{ t: null }]);
  });

  it('recovers down SQL from git history after the branch that added it was deleted (tag keeps the commit)', async () => {
    const { repo, db } = await twoBranches();
    await query(db, 'UPDATE _dbguard.applied_migrations SET down_sql = NULL');
    repo.git('tag', 'keep-a');
    repo.git('checkout', '-q', 'b');
    repo.git('branch', '-D', 'a');
    const dry = repo.dbguard(['rollback', '--dry-run', '--json']);
    const plan = JSON.parse(dry.stdout).plan;
    expect(plan.steps.map((s: { version: string; downSqlSource: string }) => [s.version, s.downSqlSource])).toEqual([['447', 'git-history'], ['446', 'git-history']]);
    expect(repo.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });

  it('refuses (exit 3) when down SQL is found nowhere: no table row, no tree, no history', async () => {
    const { repo, db } = await twoBranches();
    await query(db, 'UPDATE _dbguard.applied_migrations SET down_sql = NULL');
    repo.git('checkout', '-q', 'b');
    repo.git('branch', '-D', 'a');
    repo.git('reflog', 'expire', '--expire=now', '--all');
    repo.git('gc', '-q', '--prune=now');
    const result = repo.dbguard(['rollback', '--yes']);
    expect(result.status).toBe(3);
    expect(result.stderr).toContain('error[NO_DOWN_SQL]');
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
  });

  it('post-merge and post-rewrite run the same check', async () => {
    const { repo } = await twoBranches();
    repo.git('checkout', '-q', '-b', 'revert-447');
    const { ['447_create_a_two.up.sql']: _u, ['447_create_a_two.down.sql']: _d, ...without447 } = branchA;
    repo.commitMigrations(without447, 'drop 447');
    repo.git('checkout', '-q', 'a');
    const merge = repo.git('merge', '-q', 'revert-447');
    expect(merge.stderr).toContain('lacks 1 migration the database has applied: 447');

    repo.git('reset', '-q', '--hard', 'HEAD~1');
    expect(existsSync(join(repo.root, 'migrations', '447_create_a_two.up.sql'))).toBe(true);
    repo.git('rm', '-q', 'migrations/447_create_a_two.up.sql', 'migrations/447_create_a_two.down.sql');
    const amend = repo.git('commit', '-q', '--amend', '-m', 'a without 447');
    expect(amend.stderr).toContain('lacks 1 migration the database has applied: 447');
  });
});
