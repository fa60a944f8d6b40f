/**
 * `dbguard db start|stop|status|url`: run the embedded database as the project's dev database;
 * `db list|prune`: the databases dbguard keeps on its server (./db-list.ts, ./db-prune.ts).
 */
import { formatConnectionUrl } from '../core/connection.js';
import { DbguardError, ExitCode } from '../core/errors.js';
import { embeddedServerFor } from '../engine/embedded.js';
import { databaseRef } from '../engine/identity.js';
import { keptByDeveloper, otherServerUsers, sessionsOnOtherDatabases } from '../engine/server-users.js';
import { acquireLockFile, lockTimeoutMs } from '../fs/lock-file.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

export type DbAction = 'start' | 'stop' | 'status' | 'url' | 'list' | 'prune';
export const DB_ACTIONS: readonly DbAction[] = ['start', 'stop', 'status', 'url', 'list', 'prune'];


export async function dbCommand(ctx: CommandContext, action: string, options: { showPassword?: boolean; dryRun?: boolean; yes?: boolean; force?: boolean }): Promise<CommandResult> {
  if (!DB_ACTIONS.includes(action as DbAction)) {
    throw new DbguardError('USAGE', `unknown db action "${action}"`, { hint: `dbguard db ${DB_ACTIONS.join('|')}` });
  }
  if (action === 'list') return import('./db-list.js').then((m) => m.dbListCommand(ctx));
  if (action === 'prune') return import('./db-prune.js').then((m) => m.dbPruneCommand(ctx, options));
  const settings = settingsFor(ctx);
  const ref = databaseRef(settings);
  const { out } = ctx;
  if (ref.target && (action === 'status' || action === 'url')) {
    const url = formatConnectionUrl(ref.target, options.showPassword);
    out.line(action === 'url' ? url : `external database ${url}`);
    return { exitCode: ExitCode.ok, json: { kind: 'external', url } };
  }
  const server = embeddedServerFor(settings);
  if (action === 'status' || action === 'url') {
    const running = server.isInitialised() ? server.running() : null;
    if (action === 'url') {
      if (!running) throw new DbguardError('EMBEDDED_NOT_RUNNING', 'the embedded database is not running', { hint: 'dbguard db start' });
      const url = formatConnectionUrl(server.target(running.port), options.showPassword);
      out.line(url);
      return { exitCode: ExitCode.ok, json: { kind: 'embedded', url } };
    }
    out.line(running ? `embedded database running: pid ${running.pid}, 127.0.0.1:${running.port}, data ${server.paths.dataDir}` : `embedded database ${server.isInitialised() ? 'stopped' : 'not created yet'} (data ${server.paths.dataDir})`);
    return { exitCode: ExitCode.ok, json: { kind: 'embedded', initialised: server.isInitialised(), running: running !== null, pid: running?.pid ?? null, port: running?.port ?? null, dataDir: server.paths.dataDir } };
  }
  const lock = await acquireLockFile(server.paths.lockFile, lockTimeoutMs());
  try {
    if (action === 'stop') {
      // §17: one server for every worktree; a run's app (here or in another worktree) would lose its database.
      const users = otherServerUsers(server);
      if (users.length > 0 && !options.force) {
        throw new DbguardError('SERVER_IN_USE', `the embedded database is in use by dbguard in ${users.length === 1 ? 'another process' : `${users.length} other processes`} (pid ${users.join(', ')}): a dbguard run's app, or a command in another worktree; it was left running`, {
          hint: 'stop them first (it stops by itself when the last one leaves), or dbguard db stop --force', details: { pids: users },
        });
      }
      // An app connected to another worktree's database (not through dbguard run) would lose it too.
      const elsewhere = options.force ? [] : await sessionsOnOtherDatabases(server, ref.database);
      if (elsewhere.length > 0) {
        throw new DbguardError('SERVER_IN_USE', `the embedded database serves other worktrees' databases too, and ${elsewhere.join(', ')} ${elsewhere.length === 1 ? 'is' : 'are'} connected to them; it was left running`, {
          hint: 'close those connections first (the apps of the other worktrees), or dbguard db stop --force', details: { sessions: elsewhere },
        });
      }
      const stopped = await server.stop();
      out.line(stopped ? 'embedded database stopped' : 'embedded database was not running');
      return { exitCode: ExitCode.ok, json: { kind: 'embedded', stopped } };
    }
    if (!server.isInitialised()) await server.initialise();
    const already = server.running();
    const running = await server.start(false);
    keptByDeveloper(settings);
    const url = formatConnectionUrl(server.target(running.port), options.showPassword);
    out.line(`${already ? 'embedded database already running' : 'embedded database started'} on 127.0.0.1:${running.port} (pid ${running.pid})`);
    out.line(`  url: ${url}`);
    out.line(out.c.dim('  stop it with: dbguard db stop'));
    return { exitCode: ExitCode.ok, json: { kind: 'embedded', started: !already, pid: running.pid, port: running.port, url } };
  } finally {
    lock.release();
  }
}

