/** The built `dbguard` binary as a user runs it: exit codes of DESIGN §9, --json documents, --help, --cwd, init. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { query, schemaVersion, serverInfo, urlFor } from '../helpers/db.js';
import { BIN, branchedRepo, GitRepo, PACKAGE_ROOT, run } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

async function conflicted(config: Record<string, unknown> = {}) {
  const made = await branchedRepo(config);
  repos.push(made.repo);
  made.repo.git('checkout', '-q', 'b');
  return made;
}

function emptyRepo(): GitRepo {
  const repo = GitRepo.create();
  repos.push(repo);
  return repo;
}

const COMMANDS = ['init', 'status', 'check', 'rollback', 'reset', 'capture', 'migrate', 'force', 'hooks', 'db', 'demo'];
const ERROR_SHAPE = /^error\[[A-Z_]+\] .+\n {2}next: .+\n$/;

describe('help and version', () => {
  it('prints the version', () => {
    const result = emptyRepo().dbguard(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(pkg.version);
  });

  it('documents the options each command takes in its --help', () => {
    const repo = emptyRepo();
    const expected: Record<string, string[]> = {
      rollback: ['--dry-run', '--yes', '--keep-irreversible'], migrate: ['--dry-run'], capture: ['--accept-edits'], status: ['--offline'], reset: ['--yes'],
    };
    for (const [command, options] of Object.entries(expected)) {
      const help = repo.dbguard([command, '--help']).stdout;
      for (const option of options) expect(help, `${command} --help`).toContain(option);
    }
  });

  it('a --no-… option does not read "(default: true)" in --help, as if it were on by default (adversarial pass)', () => {
    const repo = emptyRepo();
    for (const command of ['reset', 'rollback', 'migrate']) {
      const help = repo.dbguard([command, '--help']).stdout;
      expect(help, `${command} --help`).toMatch(/--no-snapshot +(Do not take a snapshot first|With --replay)/);
      expect(help, `${command} --help`).not.toContain('(default: true)');
    }
  });

  it('an unknown command is a usage error (2) with the next command, and no stack trace unless DEBUG=dbguard', () => {
    const repo = emptyRepo();
    const result = repo.dbguard(['rolback']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(ERROR_SHAPE);
    expect(result.stderr).toContain('error[USAGE] unknown command "rolback"');
    const debug = repo.dbguard(['--cwd', join(repo.root, 'nowhere'), 'check'], { DEBUG: 'dbguard' });
    expect(debug.status).toBe(2);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});

describe('exit codes (DESIGN §9)', () => {
  it('0 when clean, 1 when the branch lacks applied migrations', async () => {
    const { repo } = await branchedRepo();
    repos.push(repo);
    expect(repo.dbguard(['check']).status).toBe(0);
    expect(repo.dbguard(['status']).status).toBe(0);
    repo.git('checkout', '-q', 'b');
    const check = repo.dbguard(['check']);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('conflict: 2 applied migrations are not on this branch');
    expect(repo.dbguard(['status']).status).toBe(1);
  });

  it('2 for a configuration error, naming the key, with nothing changed', async () => {
    const { repo, db } = await conflicted();
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, onConflit: 'rollback' }));
    const result = repo.dbguard(['rollback', '--yes']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(ERROR_SHAPE);
    expect(result.stderr).toContain('onConflit');
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
  });

  it('3 when refused as unsafe (dirty database, remote host)', async () => {
    const { repo, db } = await conflicted();
    await query(db, 'UPDATE schema_migrations SET dirty = true');
    const dirty = repo.dbguard(['rollback', '--yes']);
    expect(dirty.status).toBe(3);
    expect(dirty.stderr).toContain('error[DIRTY]');
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: true });

    for (const command of [['rollback', '--yes'], ['capture']]) {
      const remote = repo.dbguard(command, { DBGUARD_DATABASE_URL: 'postgres://me:secret@db.example.com:5432/app' });
      expect(remote.status).toBe(3);
      expect(remote.stderr).toContain('error[REMOTE_REFUSED]');
      expect(remote.stderr).not.toContain('secret');
    }
  });

  it('4 for database failures: wrong password, nothing listening', async () => {
    const { repo } = await conflicted();
    const { host, port, user } = serverInfo();
    const wrong = repo.dbguard(['status'], { DBGUARD_DATABASE_URL: `postgres://${user}:not-the-password@${host}:${port}/postgres` });
    expect(wrong.status).toBe(4);
    expect(wrong.stderr).toContain('error[DB_AUTH_FAILED]');
    expect(wrong.stderr).not.toContain('not-the-password');
    const noPassword = repo.dbguard(['status'], { DBGUARD_DATABASE_URL: `postgres://${user}@${host}:${port}/postgres` });
    expect(noPassword.status).toBe(4);
    expect(noPassword.stderr).toMatch(/^error\[DB_AUTH_FAILED\] the server at .* asks for a password and the URL has none/);
    const closed = repo.dbguard(['status'], { DBGUARD_DATABASE_URL: `postgres://${user}:x@127.0.0.1:1/postgres` });
    expect(closed.status).toBe(4);
    expect(closed.stderr).toContain('error[DB_CONNECT_FAILED]');
    expect(closed.stderr).toMatch(ERROR_SHAPE);
  });
});

describe('bad input changes nothing: migrate validates before it creates the embedded database (issue 26.7d)', () => {
  for (const [what, file, sql, code] of [
    ['a name that does not parse', 'abc_bad.up.sql', 'SELECT 1;', 'MIGRATION_NAME_INVALID'],
    ['an empty up file', '2_empty.up.sql', '', 'MIGRATION_FILE_INVALID'],
  ] as const) {
    it(`${what}: ${code}, and no cluster, password or port is made`, () => {
      const repo = emptyRepo();
      repo.write('dbguard.config.json', '{}');
      repo.write('migrations/1_create_a.up.sql', 'CREATE TABLE a (id int);');
      repo.write(`migrations/${file}`, sql);
      const migrated = repo.dbguard(['migrate']);
      expect(migrated.stderr).toContain(`error[${code}] `);
      expect(migrated.stderr).not.toContain('creating the embedded database');
      expect(migrated.status).toBe(2);
      expect(existsSync(join(repo.root, '.dbguard', 'postgres'))).toBe(false);
      expect(existsSync(join(repo.root, '.dbguard', 'postgres.password'))).toBe(false);
      // The dry run refuses it the same way, and creates nothing either.
      const dry = repo.dbguard(['migrate', '--dry-run']);
      expect(dry.stderr).toContain(`error[${code}] `);
      expect(dry.status).toBe(2);
      expect(existsSync(join(repo.root, '.dbguard', 'postgres'))).toBe(false);
    });
  }
});

describe('--json', () => {
  it('status: one document with the database, cache, phantoms, pending, plan and next command', async () => {
    const { repo } = await conflicted();
    const result = repo.dbguard(['status', '--json']);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('');
    const doc = JSON.parse(result.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.database.kind).toBe('external');
    expect(doc.database.where).not.toContain(serverInfo().password);
    expect(doc.cache).toEqual({ applied: 3, withoutDownSql: [] });
    expect(doc.conflicts.map((c: { version: string; kind: string }) => [c.version, c.kind])).toEqual([['447', 'missing'], ['446', 'missing']]);
    expect(doc.pending).toEqual([{ version: '450', filename: '450_create_b_only.up.sql' }]);
    expect(doc.plan.kind).toBe('rollback');
    expect(doc.plan.steps.map((s: { version: string; after: string }) => [s.version, s.after])).toEqual([['447', '446'], ['446', '445']]);
    expect(doc.next).toBe('dbguard rollback');
  });

  it('check, rollback --dry-run and rollback --yes print only JSON on stdout', async () => {
    const { repo, db } = await conflicted();
    const check = JSON.parse(repo.dbguard(['check', '--json']).stdout);
    expect(check).toMatchObject({ ok: false, firstRun: false });
    const dry = repo.dbguard(['rollback', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout)).toMatchObject({ ok: true, dryRun: true, applied: [], plan: { kind: 'rollback', from: '447', to: '445' } });
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
    const applied = repo.dbguard(['rollback', '--yes', '--json']);
    expect(applied.stderr).toBe('');
    const doc = JSON.parse(applied.stdout);
    expect(doc).toMatchObject({ ok: true, databaseVersion: '445' });
    expect(doc.applied.map((a: { version: string }) => a.version)).toEqual(['447', '446']);
    const migrate = JSON.parse(repo.dbguard(['migrate', '--json']).stdout);
    expect(migrate.ok).toBe(true);
    expect(JSON.stringify(migrate)).toContain('450');
  });

  it('errors become {ok: false, error: {code, message, hint}} on stdout', async () => {
    const { repo } = await conflicted();
    const result = repo.dbguard(['rollback', '--json']);
    expect(result.status).toBe(2);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({ ok: false, error: { code: 'NOT_A_TTY' } });
    expect(doc.error.hint).toContain('dbguard rollback --yes');
  });

  it('hooks status, db status and init report as JSON too', () => {
    const repo = emptyRepo();
    const init = JSON.parse(repo.dbguard(['init', '--json']).stdout);
    expect(init).toMatchObject({ ok: true, wroteConfig: true, migrationsDir: 'migrations' });
    const hooks = JSON.parse(repo.dbguard(['hooks', 'status', '--json']).stdout);
    expect(hooks.ok).toBe(true);
    const db = JSON.parse(repo.dbguard(['db', 'status', '--json']).stdout);
    expect(db).toMatchObject({ ok: true, kind: 'embedded', running: false });
  });
});

describe('init and --cwd', () => {
  it('init writes the config, ignores the state dir, installs hooks, and is idempotent', () => {
    const repo = emptyRepo();
    const first = repo.dbguard(['init']);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('wrote dbguard.config.json');
    expect(first.stdout).toContain('next:');
    expect(JSON.parse(readFileSync(join(repo.root, 'dbguard.config.json'), 'utf8'))).toMatchObject({ migrationsDir: 'migrations', onConflict: 'warn' });
    expect(existsSync(join(repo.root, '.git', 'hooks', 'post-checkout'))).toBe(true);
    const ignore = readFileSync(join(repo.root, '.gitignore'), 'utf8');
    expect(ignore).toContain('.dbguard/');
    const second = repo.dbguard(['init']);
    expect(second.stdout).toContain('kept the existing configuration');
    expect(second.stdout).toContain('hooks: already installed');
    expect(readFileSync(join(repo.root, '.gitignore'), 'utf8')).toBe(ignore);
  });

  it('--cwd runs against another repository', async () => {
    const { repo } = await conflicted();
    const elsewhere = run(process.execPath, [join(repo.root, 'node_modules', '.bin', 'dbguard'), 'check', '--cwd', repo.root], '/');
    expect(elsewhere.status).toBe(1);
    expect(elsewhere.stdout).toContain('446');
  });
});

describe('the command line edge (issue 9, item 16)', () => {
  it('--json answers --version, --help and a missing command with one document', () => {
    const repo = emptyRepo();
    const version = repo.dbguard(['--version', '--json']);
    expect(JSON.parse(version.stdout)).toEqual({ format: 1, ok: true, version: pkg.version });
    const help = JSON.parse(repo.dbguard(['--help', '--json']).stdout);
    expect(help.commands.map((c: { name: string }) => c.name.split(' ')[0])).toEqual(expect.arrayContaining(COMMANDS));
    const none = repo.dbguard(['--json']);
    expect(none.status).toBe(2);
    expect(JSON.parse(none.stdout)).toMatchObject({ format: 1, ok: false, error: { code: 'USAGE' } });
  });

  it('output into a closed pipe exits quietly, and the embedded lock and server are released', () => {
    const repo = emptyRepo();
    repo.commitMigrations({ '1_a.up.sql': 'CREATE TABLE a (id int);', '1_a.down.sql': 'DROP TABLE a;' }, 'one');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    const piped = run('sh', ['-c', `"${process.execPath}" "${BIN}" status | head -1`], repo.root);
    expect(piped.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(piped.stderr).toBe('');
    expect(existsSync(join(repo.root, '.dbguard', 'dbguard.lock'))).toBe(false);
    expect(JSON.parse(repo.dbguard(['db', 'status', '--json']).stdout)).toMatchObject({ running: false });
  });

  it('the package ships npm-shrinkwrap.json: the dependency tree the suite runs with, production packages pinned (issue 26.5a)', () => {
    const packed = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], PACKAGE_ROOT);
    expect(packed.status, packed.stderr).toBe(0);
    expect((JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((f) => f.path)).toContain('npm-shrinkwrap.json');
    // One lock file: npm ci installs from the shrinkwrap, so what is tested is what ships.
    expect(existsSync(join(PACKAGE_ROOT, 'package-lock.json'))).toBe(false);
    const shrinkwrap = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'npm-shrinkwrap.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean; optional?: boolean; dependencies?: Record<string, string> }> };
    expect(shrinkwrap.packages['']?.dependencies).toEqual(pkg.dependencies);
    const production = Object.entries(shrinkwrap.packages).filter(([path, entry]) => path.startsWith('node_modules/') && !entry.dev);
    expect(production.map(([path]) => path)).toEqual(expect.arrayContaining(Object.keys(pkg.dependencies).map((name) => `node_modules/${name}`)));
    for (const [path, entry] of production) {
      const installed = join(PACKAGE_ROOT, path, 'package.json');
      if (entry.optional && !existsSync(installed)) continue; // another platform's binaries
      expect([path, (JSON.parse(readFileSync(installed, 'utf8')) as { version: string }).version]).toEqual([path, entry.version]);
    }
  });

  it('the packed manifest has no install-time scripts (npm 11 would list them in the user\'s project)', () => {
    expect(Object.keys(pkg.scripts)).not.toEqual(expect.arrayContaining(['prepare']));
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(pkg.scripts).not.toHaveProperty(hook);
  });
});
