/**
 * `dbguard run -- <command>` (DESIGN §14): the seed's develop-script flow for any app. Check against the
 * database before the app starts, keep the embedded server up while it runs, capture what its own
 * migrator applies as it applies it, pass signals on, capture once more at the end, and hand back the
 * app's exit code. No lock is held while the app runs: hooks and commands work beside it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { formatConnectionUrl, type ConnectionTarget } from '../core/connection.js';
import { DbguardError } from '../core/errors.js';
import type { Plan } from '../core/plan.js';
import type { Settings } from '../core/settings.js';
import { connect, type PgClient } from '../db/client.js';
import { readSchemaVersion } from '../db/schema-migrations.js';
import { formatOf } from '../formats/index.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { captureAppliedMigrations, type CaptureResult } from './capture.js';
import { useEmbeddedServer } from './server-users.js';
import { planAndRebuildCache, runRollback } from './rollback.js';
import { withSession } from './session.js';
import { databaseRef } from './identity.js';
import { compareVersions } from '../core/catalog.js';
import type { Reporter } from '../core/events.js';

export interface RunOptions {
  readonly command: readonly string[];
  /** Roll back a conflict before starting (--rollback, or "onConflict": "rollback"). */
  readonly rollback: boolean;
  /** Start despite a conflict (--continue). */
  readonly continueAnyway: boolean;
  /** How often the database's version is read while the command runs. */
  readonly pollMs?: number;
  readonly report: Reporter;
  /** One line for the person (stderr), prefixed "dbguard:". */
  readonly say: (line: string) => void;
}

export type RunOutcome =
  | { readonly kind: 'conflict'; readonly plan: Plan }
  | {
    readonly kind: 'exited'; readonly code: number; readonly captured: readonly bigint[]; readonly rolledBack: number;
    /** The version the app's migrator left dirty (failed or cut short half way), not recorded as applied; else null. */
    readonly dirty: bigint | null;
  };

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** The app's own exit code, or the shell's for a signal (128 + its number). */
const exitCodeOf = (exit: { code: number | null; signal: NodeJS.Signals | null }) => exit.code ?? 128 + (SIGNAL_NUMBERS[exit.signal ?? ''] ?? 0);

/** The variable the app reads its database URL from ("run": { "urlVariable" } in the config). */
function environmentFor(settings: Settings, target: ConnectionTarget | null): NodeJS.ProcessEnv {
  if (target === null) return process.env;
  return { ...process.env, [settings.run.urlVariable]: formatConnectionUrl(target, true) };
}

/** `whileAppRuns`: run passes SIGINT and SIGTERM to the app then, so the session must not exit on them. */
async function captureNow(settings: Settings, deadlineMs: number, whileAppRuns = false): Promise<CaptureResult> {
  const dir = absoluteMigrationsDir(settings);
  return withSession(settings, { destructive: true, lockWaitMs: deadlineMs, callerHandlesSignals: whileAppRuns }, (session) => captureAppliedMigrations(session, dir, readDiskState(dir, session.format)));
}

export async function runCommand(settings: Settings, options: RunOptions): Promise<RunOutcome> {
  // What the watcher reads: the tracking table of the session's format (told by the table when nothing named one).
  let format = formatOf(settings);
  const [program, ...args] = options.command;
  if (program === undefined) {
    throw new DbguardError('USAGE', 'dbguard run needs the command to run after "--"', { hint: 'dbguard run -- go run .   (or: dbguard run -- npm run dev)' });
  }
  // 1. The server first (kept up while the app runs, and while any other run's app does), then a full
  // check against the database.
  const use = settings.database.kind === 'embedded' ? await useEmbeddedServer(settings) : null;
  const target: ConnectionTarget | null = use?.target ?? null;
  const stopServer = async () => {
    const said = await use?.leave().catch((error: unknown) => `left the embedded database running: ${(error as Error).message}`);
    if (said) options.say(said);
  };
  let rolledBack = 0;
  try {
    const planned = await withSession(settings, { destructive: false }, (session) => {
      format = session.format;
      return planAndRebuildCache(session, settings);
    });
    if (planned.plan.kind !== 'clean') {
      if (options.rollback && planned.plan.kind === 'rollback') {
        const run = await withSession(settings, { destructive: true, report: options.report }, (session) => runRollback(session, settings, { report: options.report }));
        if (run.plan.kind === 'refuse') {
          await stopServer();
          return { kind: 'conflict', plan: run.plan };
        }
        rolledBack = run.outcome?.applied.length ?? 0;
        options.say(`rolled back ${rolledBack} migration${rolledBack === 1 ? '' : 's'} this branch lacks; database at ${run.plan.kind === 'rollback' ? run.plan.to ?? 'nothing applied' : 'its version'}`);
      } else if (!options.continueAnyway) {
        await stopServer();
        return { kind: 'conflict', plan: planned.plan };
      } else {
        options.say('the database has migrations this branch lacks; starting anyway (--continue)');
      }
    }
  } catch (error) {
    await stopServer();
    throw error;
  }

  // 2.–4. The app runs; its migrator's new versions are captured within a tick.
  const child = spawn(program, args, { stdio: 'inherit', env: environmentFor(settings, target) });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = SIGNALS.map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const captured = new Set<bigint>();
  const watchTarget = target ?? (databaseRef(settings).target as ConnectionTarget);
  let lastSeen: string | null = null;
  let busy = false;
  // §17: `git worktree remove --force` while the app runs: nothing is ever written into the folder that is gone.
  const folderGone = () => !existsSync(settings.root);
  const tick = async () => {
    if (busy || folderGone()) return;
    busy = true;
    // A connection per look, closed at once: one kept open would count as "another session" and keep
    // every rollback beside the app from taking its snapshot.
    let watcher: PgClient | null = null;
    try {
      watcher = await connect(watchTarget, { lockTimeoutMs: 1000, statementTimeoutMs: 2000 });
      const version = await readSchemaVersion(watcher, format);
      await watcher.end().catch(() => undefined);
      watcher = null;
      // A tool that keeps a set can apply below its top (dbmate, sql-migrate): the set itself is compared.
      const seen = version === null ? 'none' : `${version.version}:${version.dirty}:${[...version.applied?.keys() ?? []].join(',')}`;
      if (seen !== lastSeen && !version?.dirty) {
        for (const v of (await captureNow(settings, 500, true)).captured) captured.add(v);
        lastSeen = seen;
      }
    } catch {
      // The app's migrator holds the locks, or the server is busy: the next tick tries again.
    } finally {
      await watcher?.end().catch(() => undefined);
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), options.pollMs ?? 500);
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  clearInterval(timer);
  for (const [signal, handler] of handlers) process.off(signal, handler);
  while (busy) await new Promise((r) => setTimeout(r, 20));
  let last: CaptureResult;
  try {
    if (exit.error) {
      const code = (exit.error as NodeJS.ErrnoException).code;
      // The shell's codes: 127 for a command not found, 126 for one that cannot be executed.
      if (code === 'EACCES' || code === 'ENOEXEC') {
        throw new DbguardError('COMMAND_NOT_EXECUTABLE', `could not start "${program}": it is not an executable program (${code}); the database was not changed`, {
          hint: `check the command after "--" (chmod +x ${program}, or run it through its interpreter)`, details: { command: program, error: code },
        });
      }
      throw new DbguardError('COMMAND_NOT_STARTED', `could not start "${program}": ${code === 'ENOENT' ? 'no such command' : exit.error.message}; the database was not changed`, {
        hint: `check the command after "--" (is ${program} installed and on PATH?)`, details: { command: program, error: code ?? null },
      });
    }
    if (folderGone()) {
      options.say(`this worktree's folder is gone (git worktree remove); nothing was captured or written there${settings.worktree ? `, and its database ${settings.worktree.database} is kept on the server` : ''}`);
      return { kind: 'exited', code: exitCodeOf(exit), captured: [...captured].sort(compareVersions), rolledBack, dirty: null };
    }
    // 4. Once more at the end: what the app applied in its last moments.
    last = await captureNow(settings, 10_000);
  } finally {
    await stopServer();
  }
  for (const v of last.captured) captured.add(v);
  // The app's migrator stopped half way through this version: capture did not record it as applied.
  const dirty = last.current?.dirty ? last.current.version : null;
  const code = exitCodeOf(exit);
  return { kind: 'exited', code, captured: [...captured].sort(compareVersions), rolledBack, dirty };
}
