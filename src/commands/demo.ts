/**
 * `dbguard demo`: the README's main command. A throwaway git repository with two branches, the
 * embedded database, and the real binary and hook doing what they do for a user: migrate branch A, add
 * rows, switch to branch B (the hook warns), roll back, migrate B, and show the rows are still there.
 * Everything happens in a temp dir that is removed at the end (unless --keep).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DbguardError, ExitCode } from '../core/errors.js';
import { withSession } from '../engine/session.js';
import { loadSettings } from '../fs/config.js';
import type { Output } from '../ui/output.js';
import { BRANCH_A, BRANCH_B, MAIN_MIGRATIONS, SEED_SQL, SHARED_TABLES, type Files } from './demo-scenario.js';
import type { CommandContext, CommandResult } from './context.js';

interface Ran {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of a fresh shell: nothing from an outer git hook or dbguard configuration leaks in. */
function cleanEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept = Object.entries(env).filter(([key]) => !key.startsWith('GIT_') && !key.startsWith('DBGUARD_') && key !== 'NO_COLOR');
  return { ...Object.fromEntries(kept), NO_COLOR: '1' };
}

function spawnIn(cwd: string, env: NodeJS.ProcessEnv, command: string, args: readonly string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

class DemoRepo {
  readonly root = mkdtempSync(join(tmpdir(), 'dbguard-demo-'));

  constructor(private readonly bin: string, private readonly env: NodeJS.ProcessEnv, private readonly out: Output) {
    // The embedded server may run as the "postgres" user (when dbguard runs as root): it must reach the folder.
    chmodSync(this.root, 0o755);
  }

  async git(...args: string[]): Promise<Ran> {
    const ran = await spawnIn(this.root, this.env, 'git', args);
    if (ran.status !== 0) throw new DbguardError('DEMO_FAILED', `git ${args.join(' ')} failed: ${ran.stderr.trim()}`, { hint: 'git --version   (the demo needs git 2.28 or newer)' });
    return ran;
  }

  async dbguard(args: readonly string[], expected = 0): Promise<Ran> {
    const ran = await spawnIn(this.root, this.env, process.execPath, [this.bin, ...args]);
    if (ran.status !== expected) {
      this.show(ran);
      throw new DbguardError('DEMO_FAILED', `dbguard ${args.join(' ')} exited ${ran.status} (expected ${expected})`, { hint: 'DEBUG=dbguard dbguard demo --keep' });
    }
    return ran;
  }

  /** A child's output, indented under the step that ran it. */
  show(ran: Ran): void {
    for (const text of [ran.stdout, ran.stderr]) {
      for (const line of text.split('\n').filter((l) => l.trim() !== '')) this.out.line(`    ${this.out.c.dim('│')} ${line}`);
    }
  }

  async commit(files: Files, message: string): Promise<void> {
    const dir = join(this.root, 'migrations');
    for (const name of readdirSync(dir)) rmSync(join(dir, name));
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
    await this.git('add', '-A');
    await this.git('commit', '-q', '-m', message);
  }

  async setUp(): Promise<void> {
    await this.git('init', '-q', '-b', 'main');
    await this.git('config', 'user.email', 'demo@example.com');
    await this.git('config', 'user.name', 'dbguard demo');
    // A global core.hooksPath would send `hooks install` outside the throwaway repository.
    await this.git('config', 'core.hooksPath', '.git/hooks');
    // Installed the way `npm i -D dbguard` installs it, so the hook shim finds node_modules/.bin/dbguard.
    mkdirSync(join(this.root, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(this.bin, join(this.root, 'node_modules', '.bin', 'dbguard'));
    mkdirSync(join(this.root, 'migrations'));
    writeFileSync(join(this.root, '.gitignore'), 'node_modules/\n.dbguard/\n');
    writeFileSync(join(this.root, 'dbguard.config.json'), `${JSON.stringify({ migrationsDir: 'migrations', onConflict: 'warn' }, null, 2)}\n`);
    await this.commit(MAIN_MIGRATIONS, 'users and posts');
    await this.git('checkout', '-q', '-b', 'feature-b');
    await this.commit(BRANCH_B, 'feature B: user bio');
    await this.git('checkout', '-q', 'main');
    await this.git('checkout', '-q', '-b', 'feature-a');
    await this.commit(BRANCH_A, 'feature A: comments, post tags');
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

async function rowCounts(root: string, env: NodeJS.ProcessEnv, seed: boolean): Promise<Record<string, number>> {
  return withSession(loadSettings(root, env), { destructive: seed, create: true }, async ({ client }) => {
    if (seed) for (const sql of SEED_SQL) await client.query(sql);
    const counts: Record<string, number> = {};
    for (const table of SHARED_TABLES) {
      const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      counts[table] = Number(result.rows[0]?.n ?? 0);
    }
    return counts;
  });
}

export interface DemoOptions {
  readonly keep?: boolean;
}

export async function demoCommand(ctx: CommandContext, options: DemoOptions = {}): Promise<CommandResult> {
  const { out } = ctx;
  const bin = realpathSync(process.argv[1] ?? '');
  const env = cleanEnv(ctx.env);
  const repo = new DemoRepo(bin, env, out);
  const step = (n: number, text: string) => out.line(`\n${out.c.bold(`${n}.`)} ${text}`);
  let serverStarted = false;
  try {
    step(1, `A throwaway repository in ${repo.root}: main has users and posts; feature-a adds 3 migrations, feature-b adds 1.`);
    const setUp = out.activity('creating branches and installing the git hooks');
    await repo.setUp();
    await repo.dbguard(['hooks', 'install']);
    setUp.done('repository ready, post-checkout hook installed');

    step(2, 'On feature-a, start the embedded PostgreSQL and apply its migrations (dbguard migrate).');
    const starting = out.activity('starting the embedded database (first use initialises it)');
    await repo.dbguard(['db', 'start']);
    serverStarted = true;
    starting.done('embedded database running');
    repo.show(await repo.dbguard(['migrate']));

    step(3, 'Add test data, the kind that takes weeks to build up.');
    const before = await rowCounts(repo.root, env, true);
    out.line(`    ${Object.entries(before).map(([t, n]) => `${n} ${t}`).join(', ')} (and a comment in feature-a's own table)`);

    step(4, 'git checkout feature-b: the branch lacks 3 applied migrations, and the hook says so.');
    repo.show(await repo.git('checkout', 'feature-b'));

    step(5, 'dbguard status: what the database holds, what this branch lacks, and the plan.');
    repo.show(await repo.dbguard(['status'], ExitCode.actionNeeded));

    step(6, 'dbguard rollback --yes: each phantom migration rolled back in its own transaction.');
    repo.show(await repo.dbguard(['rollback', '--yes']));

    step(7, 'dbguard migrate: feature-b\'s own migration applies on top of the common ancestor.');
    repo.show(await repo.dbguard(['migrate']));
    repo.show(await repo.dbguard(['check']));

    step(8, 'The rows in the tables both branches share are still there.');
    const after = await rowCounts(repo.root, env, false);
    for (const table of SHARED_TABLES) {
      const kept = after[table] === before[table];
      out.line(`    ${kept ? out.c.green('✓') : out.c.red('✗')} ${table}: ${before[table]} before, ${after[table]} after`);
      if (!kept) throw new DbguardError('DEMO_FAILED', `rows were lost in ${table}`, { hint: 'DEBUG=dbguard dbguard demo --keep' });
    }
    out.line(`\n${out.c.green('Done.')} No database was deleted. In your project: npm i -g dbguard && dbguard init`);
    return { exitCode: ExitCode.ok, json: { repository: options.keep ? repo.root : null, rowsBefore: before, rowsAfter: after } };
  } finally {
    if (serverStarted && !options.keep) await repo.dbguard(['db', 'stop']).catch(() => undefined);
    if (options.keep) out.line(`kept ${repo.root}${serverStarted ? ' (database still running: dbguard db stop)' : ''}`);
    else repo.cleanup();
  }
}
