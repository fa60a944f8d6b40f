/**
 * Wrong or internal messages (issue 16, item 12): the hook and check say what migrate will say, status
 * names the next command, output that cannot be written fails cleanly, config errors say what is wrong,
 * and init works where the user runs it.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, tableMigration, urlFor } from '../helpers/db.js';
import { BIN, GitRepo, run } from '../helpers/git.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function projectRepo(): Promise<GitRepo> {
  const db = await createDatabase();
  const repo = GitRepo.create();
  cleanups.push(() => repo.cleanup());
  repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
  repo.commitMigrations(tableMigration(1, 'one'), 'one');
  expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
  expect(repo.dbguard(['migrate']).status).toBe(0);
  return repo;
}


/** 1 applied by dbguard; another migrator applied 2 from a file that never reached this repository (UNTRACKED). */
async function untrackedTwo(): Promise<GitRepo> {
  const db = await createDatabase();
  const repo = GitRepo.create();
  cleanups.push(() => repo.cleanup());
  repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
  repo.commitMigrations(tableMigration(1, 'one'), 'one');
  expect(repo.dbguard(['migrate']).status).toBe(0);
  await query(db, 'CREATE TABLE two (id int); UPDATE schema_migrations SET version = 2');
  return repo;
}

describe('the hook and check say what migrate will say', () => {
  it('a new file whose name does not parse: the hook names it as migrate does, not "0 new migrations ()"', async () => {
    const repo = await projectRepo();
    repo.git('checkout', '-q', '-b', 'bad');
    repo.commitMigrations({ ...tableMigration(1, 'one'), '0_zero.up.sql': 'SELECT 1;' }, 'bad name');
    repo.git('checkout', '-q', 'main');
    const checkout = repo.git('checkout', 'bad');
    expect(checkout.stderr).not.toContain('0 new migrations');
    expect(checkout.stderr).toContain('MIGRATION_NAME_INVALID: 0_zero.up.sql in migrations looks like a migration but version must be a positive integer');
    expect(repo.dbguard(['migrate']).stderr).toContain('error[MIGRATION_NAME_INVALID] 0_zero.up.sql');
  });

  it('a pending migration whose down file migrate would refuse: status names it too, with the next command', async () => {
    const repo = await projectRepo();
    writeFileSync(join(repo.root, 'migrations', '2_two.up.sql'), 'CREATE TABLE two ();');
    writeFileSync(join(repo.root, 'migrations', '2_two.down.sql'), Buffer.from([0x44, 0x52, 0x00, 0x4f]));
    const status = repo.dbguard(['status']);
    expect(status.status).toBe(1);
    expect(status.stdout).toContain('invalid      2_two.down.sql is binary (contains NUL bytes), not SQL');
    expect(repo.dbguard(['migrate']).stderr).toContain('error[MIGRATION_FILE_INVALID] 2_two.down.sql is binary');
  });

  it('a version used by three files: the hook, check and migrate all say MIGRATION_VERSION_REUSED', async () => {
    const repo = await projectRepo();
    repo.git('checkout', '-q', '-b', 'dup');
    repo.commitMigrations({
      ...tableMigration(1, 'one'), '5_a.up.sql': 'SELECT 1;', '5_b.up.sql': 'SELECT 1;', '05_c.up.sql': 'SELECT 1;',
    }, 'three fives');
    repo.git('checkout', '-q', 'main');
    const checkout = repo.git('checkout', 'dup');
    expect(checkout.stderr).not.toContain('(5, 5, 5)');
    expect(checkout.stderr).toContain('MIGRATION_VERSION_REUSED: version 5 is used by more than one file: 05_c.up.sql, 5_a.up.sql, 5_b.up.sql');
    const check = repo.dbguard(['check']);
    expect(check.status).toBe(2);
    expect(check.stderr).toContain('error[MIGRATION_VERSION_REUSED]');
    expect(repo.dbguard(['migrate']).stderr).toContain('error[MIGRATION_VERSION_REUSED]');
  });

  it('an UNTRACKED refusal is said once: status and rollback name what to do, not "dbguard status" again (issue 26.7e)', async () => {
    const repo = await untrackedTwo();
    const status = repo.dbguard(['status']);
    expect(status.status).toBe(3);
    expect(status.stdout.match(/was never captured/g)).toHaveLength(1);
    expect(status.stdout).toContain("  next         dbguard capture   (after restoring 2's migration files from where they were written), or check out the branch that has them");
    expect(status.stdout).not.toMatch(/next +dbguard status/);
    const rollback = repo.dbguard(['rollback', '--yes']);
    expect(rollback.stderr).toContain('error[UNTRACKED] ');
    expect(rollback.stderr).toContain("  next: dbguard capture   (after restoring 2's migration files from where they were written), or check out");
  });

  it('dbguard run on a plan a rollback would refuse (UNTRACKED) names the refusal\'s fix, not run --rollback (adversarial pass)', async () => {
    const repo = await untrackedTwo();
    for (const flags of [[], ['--rollback']]) {
      const refused = repo.dbguard(['run', ...flags, '--', 'true']);
      expect(refused.status, flags.join(' ')).toBe(1);
      expect(refused.stdout + refused.stderr).toContain('refused (UNTRACKED)');
      expect(refused.stderr).toContain("  next: dbguard capture   (after restoring 2's migration files from where they were written), or check out");
      expect(refused.stderr).not.toContain('dbguard run --rollback');
      expect(refused.stderr).toContain('dbguard run --continue -- true   start anyway');
    }
  });

  it('status --offline with a pending migration names dbguard migrate, not "nothing to do"', async () => {
    const repo = await projectRepo();
    repo.write('migrations/2_two.up.sql', 'CREATE TABLE two (id int);');
    repo.write('migrations/2_two.down.sql', 'DROP TABLE two;');
    const status = repo.dbguard(['status', '--offline']);
    expect(status.stdout).toContain('next         dbguard migrate');
    expect(status.stdout).not.toContain('nothing to do');
  });

  it('status > /dev/full: exit 4 with one line, no stack trace, and no lock left behind', async () => {
    const repo = await projectRepo();
    const full = run('sh', ['-c', `"${process.execPath}" "${BIN}" status > /dev/full`], repo.root);
    expect(full.status).toBe(4);
    expect(full.stderr).toContain('dbguard: could not write the output (ENOSPC)');
    expect(full.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(join(repo.root, '.dbguard'), { recursive: true }).map(String).filter((f) => f.endsWith('dbguard.lock'))).toEqual([]);
  });
});

describe('configuration errors say what is wrong', () => {
  const cases: Array<[string, string, string]> = [
    ['[]', 'CONFIG_INVALID', 'must hold a JSON object, not an array'],
    ['null', 'CONFIG_INVALID', 'must hold a JSON object, not null'],
    ['{"database":{"url":"postgres://localhost/x","embedded":{}}}', 'CONFIG_INVALID', 'names both "url" and "embedded"'],
    ['{"database":{"host":"x"}}', 'CONFIG_INVALID', 'expected { "url": "postgres://…" } or { "embedded"'],
  ];
  for (const [text, code, message] of cases) {
    it(`${text} → ${code}: ${message}`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'dbguard-config-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, 'dbguard.config.json'), text);
      const result = run(process.execPath, [BIN, 'status', '--offline'], dir);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`error[${code}]`);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toContain('Expected Object but received Object');
    });
  }

  it('a config saved with a UTF-8 byte-order mark is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbguard-config-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'dbguard.config.json'), '\uFEFF{"onConflict":"warn"}');
    expect(run(process.execPath, [BIN, 'status', '--offline'], dir).status).toBe(0);
  });
});

describe('init where the user runs it', () => {
  it('outside a git repository: NOT_A_GIT_REPO, nothing written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbguard-nogit-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const init = run(process.execPath, [BIN, 'init', '--json'], dir);
    expect(init.status).toBe(2);
    expect(JSON.parse(init.stdout)).toMatchObject({ ok: false, error: { code: 'NOT_A_GIT_REPO' } });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('in a monorepo folder: the config goes there, with that folder\'s migrations', () => {
    const repo = GitRepo.create({ nodeModules: false });
    cleanups.push(() => repo.cleanup());
    const api = join(repo.root, 'services', 'api');
    mkdirSync(join(api, 'db', 'migrations'), { recursive: true });
    const init = repo.dbguard(['init'], {}, undefined, api);
    expect(init.status, init.stdout + init.stderr).toBe(0);
    expect(existsSync(join(repo.root, 'dbguard.config.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(api, 'dbguard.config.json'), 'utf8')).migrationsDir).toBe('db/migrations');
    expect(readFileSync(join(api, '.gitignore'), 'utf8')).toContain('/.dbguard/');
    expect(repo.git('config', '--get-all', 'dbguard.project').stdout.trim()).toBe('services/api');
  });
});
