/** Real git repositories in temp dirs, with dbguard "installed" the way npm would (node_modules/.bin). */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { createDatabase, schemaSnapshot, schemaVersion, tableMigration, urlFor } from './db.js';

export const PACKAGE_ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(PACKAGE_ROOT, 'dist', 'bin.js');

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}, input?: string): RunResult {
  const result = spawnSync(command, args, {
    cwd, encoding: 'utf8', input, timeout: 120_000,
    // A clean environment: no inherited git or dbguard variables, no terminal, no colors.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', GIT_CONFIG_NOSYSTEM: '1', ...env },
  });
  return { status: result.status ?? -1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs dbguard with stdin and stdout on a pseudo-terminal (util-linux `script`), typing `input`. */
export function inTerminal(repo: GitRepo, args: readonly string[], input: string, env: NodeJS.ProcessEnv = {}): RunResult {
  const command = `stty cols 100 rows 40; ${[process.execPath, BIN, ...args].map(shellQuote).join(' ')}`;
  return run('script', ['-qec', command, '/dev/null'], repo.root, { TERM: 'xterm', ...env }, input);
}

export class GitRepo {
  readonly root: string;

  constructor(root?: string) {
    this.root = root ?? mkdtempSync(join(tmpdir(), 'dbguard-repo-'));
    chmodSync(this.root, 0o755);
  }

  /** A repository with dbguard in node_modules/.bin, or (nodeModules: false) none, as in a Go project. */
  static create(options: { nodeModules?: boolean } = {}): GitRepo {
    const repo = new GitRepo();
    repo.git('init', '-q', '-b', 'main');
    repo.configureUser();
    if (options.nodeModules !== false) {
      mkdirSync(join(repo.root, 'node_modules', '.bin'), { recursive: true });
      symlinkSync(BIN, join(repo.root, 'node_modules', '.bin', 'dbguard'));
    }
    writeFileSync(join(repo.root, '.gitignore'), 'node_modules/\n.dbguard/\n');
    mkdirSync(join(repo.root, 'migrations'));
    return repo;
  }

  configureUser(): void {
    this.git('config', 'user.email', 'dev@example.com');
    this.git('config', 'user.name', 'Dev');
  }

  git(...args: string[]): RunResult {
    return this.gitWith({}, ...args);
  }

  /** git with extra environment (PATH for a global dbguard, DEBUG, the hook's time limits). */
  gitWith(env: NodeJS.ProcessEnv, ...args: string[]): RunResult {
    const result = run('git', args, this.root, env);
    if (result.status !== 0 && !['checkout', 'merge', 'commit', 'rebase', 'pull'].includes(args[0] ?? '')) {
      throw new Error(`git ${args.join(' ')} failed: ${result.stderr}`);
    }
    return result;
  }

  dbguard(args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string, cwd = this.root): RunResult {
    return run(process.execPath, [BIN, ...args], cwd, env, input);
  }

  write(path: string, text: string): void {
    writeFileSync(join(this.root, path), text);
  }

  /** Writes one file and commits it alone (a commit that leaves the migrations as they are). */
  commitFile(path: string, text: string, message: string): void {
    this.write(path, text);
    this.git('add', '--', path);
    this.git('commit', '-q', '-m', message);
  }

  /** Replaces the migrations folder with `files`, then commits everything. */
  commitMigrations(files: Record<string, string>, message: string): void {
    const dir = join(this.root, 'migrations');
    for (const name of readdirSync(dir)) rmSync(join(dir, name));
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
    this.git('add', '-A');
    this.git('commit', '-q', '-m', message);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export const base = { ...tableMigration(445, 'chat') };
export const branchA = { ...base, ...tableMigration(446, 'a_one'), ...tableMigration(447, 'a_two') };
export const branchB = { ...base, ...tableMigration(450, 'b_only') };

/**
 * A repository (kept in `repos`, for the caller's cleanup) whose config points at a new database on the
 * suite's server, with `files` committed as its migrations on main.
 */
export async function repoOnNewDatabase(repos: GitRepo[], files: Record<string, string>, message = 'main', config: Record<string, unknown> = {}): Promise<{ repo: GitRepo; db: string }> {
  const db = await createDatabase();
  const repo = GitRepo.create();
  repos.push(repo);
  repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, ...config }));
  repo.commitMigrations(files, message);
  return { repo, db };
}

/** The schema `files` make when `dbguard migrate` applies them to an empty database. */
export async function freshSchemaOf(repos: GitRepo[], files: Record<string, string>): Promise<unknown> {
  const { repo, db } = await repoOnNewDatabase(repos, files, 'fresh');
  expect(repo.dbguard(['migrate']).status).toBe(0);
  return schemaSnapshot(db);
}

/**
 * The conflict every dbguard user meets: main has 445; branch a adds 446–447 and has them applied
 * (the repository is left on a); branch b adds 450. Hooks installed; the database is the test's own.
 */
export async function branchedRepo(config: Record<string, unknown> = {}): Promise<{ repo: GitRepo; db: string }> {
  const db = await createDatabase();
  const repo = GitRepo.create();
  repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, ...config }));
  repo.commitMigrations(base, 'base');
  expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
  repo.git('checkout', '-q', '-b', 'b');
  repo.commitMigrations(branchB, 'b');
  repo.git('checkout', '-q', 'main');
  repo.git('checkout', '-q', '-b', 'a');
  repo.commitMigrations(branchA, 'a');
  const migrated = repo.dbguard(['migrate']);
  expect(migrated.stderr).toBe('');
  expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
  return { repo, db };
}
