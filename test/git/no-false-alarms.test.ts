/**
 * Issue 25.12: what dbguard says matches what happened. A renamed migration (same content) is not new; a
 * file with other content under an applied version is a phantom in check as in status; a replay's dry
 * run counts what the run applies; a schema changed by out-of-order steps or a replay is not blamed on
 * an edit or on changes by hand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tableMigration } from '../helpers/db.js';
import { GitRepo, repoOnNewDatabase } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

async function repoWithDb(files: Record<string, string>): Promise<GitRepo> {
  const { repo } = await repoOnNewDatabase(repos, files, 'main');
  expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
  const migrated = repo.dbguard(['migrate']);
  expect(migrated.status, migrated.stderr).toBe(0);
  return repo;
}

const main = { ...tableMigration(1, 'users'), ...tableMigration(4, 'invoices'), ...tableMigration(5, 'notes') };
const late = { ...main, ...tableMigration(3, 'coupons') }; // a rebased branch's older migration

describe('renames (issue 25.12)', () => {
  it('a checkout to a branch that renamed an applied migration (same content) mentions nothing new', async () => {
    const repo = await repoWithDb(main);
    repo.git('checkout', '-q', '-b', 'tidy');
    repo.git('mv', 'migrations/1_create_users.up.sql', 'migrations/1_users.up.sql');
    repo.git('mv', 'migrations/1_create_users.down.sql', 'migrations/1_users.down.sql');
    repo.git('commit', '-q', '-m', 'rename');
    repo.git('checkout', '-q', 'main');
    const checkout = repo.git('checkout', 'tidy');
    expect(checkout.stderr).not.toContain('new migration');
    expect(checkout.stderr).not.toContain('lacks');
    expect(repo.dbguard(['migrate', '--dry-run']).stdout).toContain('nothing to migrate');
  });

  it('check calls a file with other content under an applied version missing, as status calls it a phantom', async () => {
    const repo = await repoWithDb(main);
    repo.git('checkout', '-q', '-b', 'other');
    repo.git('mv', 'migrations/1_create_users.up.sql', 'migrations/1_people.up.sql');
    repo.write('migrations/1_people.up.sql', 'CREATE TABLE people (id int);');
    repo.git('commit', '-q', '-am', 'another 1');
    const check = repo.dbguard(['check']);
    expect(check.status).toBe(1);
    expect(check.stdout).not.toContain('renamed');
    expect(check.stdout).toContain('1  1_create_users.up.sql  missing (1_people.up.sql holds version 1 with other content)');
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout).phantoms).toMatchObject([{ version: '1', filename: '1_create_users.up.sql' }]);
  });
});

describe('replay and out-of-order steps (issue 25.12)', () => {
  it('migrate --replay --dry-run lists what the run applies', async () => {
    const repo = await repoWithDb(main);
    repo.commitMigrations(late, 'late');
    const dry = JSON.parse(repo.dbguard(['migrate', '--replay', '--dry-run', '--json']).stdout);
    expect(dry.rewound).toEqual(['5', '4']);
    const run = JSON.parse(repo.dbguard(['migrate', '--replay', '--json']).stdout);
    expect(run.applied.map((a: { version: string }) => a.version)).toEqual(['3', '4', '5']);
    expect(dry.pending.map((p: { version: string }) => p.version)).toEqual(['3', '4', '5']);
    expect(dry.outOfOrder).toEqual(run.outOfOrder);
  });

  it('a replay, an out-of-order rollback and an out-of-order migrate warn about nothing: the schema is what the steps did', async () => {
    const repo = await repoWithDb(main);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations(late, 'late');
    const replayed = repo.dbguard(['migrate', '--replay']);
    expect(replayed.status, replayed.stderr).toBe(0);
    expect(replayed.stderr).not.toContain('warning');
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout).schema.state).toBe('as-recorded');

    repo.git('checkout', '-q', 'main');
    const rolledBack = repo.dbguard(['rollback', '--yes']);
    expect(rolledBack.status, rolledBack.stderr).toBe(0);
    expect(rolledBack.stderr).not.toContain('warning');
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout).schema.state).toBe('as-recorded');

    repo.git('checkout', '-q', 'feature');
    const migrated = repo.dbguard(['migrate']);
    expect(migrated.stdout).toContain('1 out of order');
    expect(migrated.stderr).not.toContain('warning');
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout).schema.state).toBe('as-recorded');
  });

  it('a down that leaves its table behind out of order is still named, and only it', async () => {
    const repo = await repoWithDb(main);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...main, ...tableMigration(3, 'coupons'), '3_create_coupons.down.sql': 'SELECT 1;' }, 'late, with a down that forgets its table');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', 'main');
    const rolledBack = repo.dbguard(['rollback', '--yes']);
    expect(rolledBack.status, rolledBack.stderr).toBe(0);
    expect(rolledBack.stderr).toContain('warning: schema at 5: table public.coupons left by the down of 3');
    expect(rolledBack.stderr).not.toContain('lost');
    // status goes on naming it, and nothing else.
    const schema = JSON.parse(repo.dbguard(['status', '--json']).stdout).schema;
    expect(schema.state).toBe('drift');
    expect(schema.message).toContain('table public.coupons left');
    expect(schema.message).not.toContain('lost');
  });
});

describe('a migration below the applied top (adversarial pass)', () => {
  it('the hook and status offer only dbguard migrate: golang-migrate would skip it, so "your own migrator then capture" leads nowhere', async () => {
    const repo = await repoWithDb(main);
    repo.git('checkout', '-q', '-b', 'late');
    repo.commitMigrations(late, 'late');
    repo.git('checkout', '-q', 'main');
    const checkout = repo.git('checkout', 'late');
    expect(checkout.stderr).toContain('1 new migration here (3): dbguard migrate   (3 is below the applied top 5: golang-migrate would skip it, so your own migrator would not apply it)');
    expect(checkout.stderr).not.toContain('your own migrator then dbguard capture');
    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect(status.next).toBe('dbguard migrate   (3 below the applied top: golang-migrate would skip it, so your own migrator would not apply it)');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout).next).toBeNull();
  });
});
