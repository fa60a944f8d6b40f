/**
 * A database for every worktree (DESIGN §17): a linked worktree's own database is a copy of the main
 * worktree's (the developer's data), made on the repository's one server when `git worktree add` checks
 * it out or by the first command that needs it, then brought in step with the worktree's branch by the
 * rollback engine, in the copy (the source is never changed). Its comment, written once the copy is
 * whole, says what it is; a file in the worktree's state dir says it was brought in step, and `env`
 * beside it holds its URL for tools that read env files.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { formatConnectionUrl, type ConnectionTarget } from '../core/connection.js';
import { DbguardError, isDbguardError } from '../core/errors.js';
import type { Reporter } from '../core/events.js';
import { parseKeptDatabaseComment, savedBranchDatabaseName, type KeptDatabaseMeta } from '../core/kept-database.js';
import type { Settings, WorktreeTarget } from '../core/settings.js';
import { connect, quoteIdentifier, type PgClient } from '../db/client.js';
import { savedState } from '../db/branch-rename.js';
import { databaseComment, writeKeptComment } from '../db/kept-databases.js';
import { copyDatabase, dropDatabase, listCopyDatabases, templateFacts, withDatabaseToItself } from '../db/snapshot.js';
import { findGitLocation } from '../fs/git-dir.js';
import { writeFileAtomic } from '../fs/state.js';
import { databaseMayExist, databaseRef, WORKTREE_DATABASE_FILE } from './identity.js';
import { runRollback } from './rollback.js';
import { sessionLimits, withSession } from './session.js';
import { canClone } from './snapshot.js';

/**
 * How the source was had to itself for the copy (PostgreSQL copies only a database nobody else is in),
 * or `saved`: no copy, the checked-out branch's database that a worktree removed from this path saved.
 */
export type CopyWay = 'idle' | 'disconnected' | 'snapshot' | 'saved';

export interface MadeCopy {
  readonly database: string;
  /** The main worktree's database. */
  readonly source: string;
  /** The snapshot of it that was copied instead (whenSourceBusy: "snapshot"), or null. */
  readonly snapshot: { readonly name: string; readonly createdAt: string } | null;
  readonly way: CopyWay;
  /** The sessions ended for the moment of the copy (way "disconnected"). */
  readonly ended: readonly string[];
  readonly cloned: boolean;
  /**
   * A worktree removed from this path left its database under this worktree's name: it was kept, renamed
   * to a saved branch database (listed by db list, pruned with its branch), never reused or dropped.
   */
  readonly keptAside: { readonly name: string; readonly branch: string | null } | null;
  readonly bytes: number;
  /** How long CREATE DATABASE … TEMPLATE took. */
  readonly ms: number;
}

export interface WorktreeDatabaseReady {
  readonly worktree: WorktreeTarget;
  /** null: it was there already. */
  readonly made: MadeCopy | null;
  /** The server was stopped and was started for this. */
  readonly startedServer: boolean;
  /** Versions rolled back in the copy because this branch lacks them. */
  readonly rolledBack: readonly bigint[];
  /** Why the copy could not be brought in step (the rollback engine refused), with the fix; or null. */
  readonly notInStep: { readonly message: string; readonly fix: string } | null;
  /** The env file written for it (null: the worktree's folder is gone, so nothing was written). */
  readonly envFile: string | null;
}

/** The worktree's branch from its HEAD file (no git spawned); null on a detached HEAD. */
function branchOf(settings: Settings): string | null {
  const git = findGitLocation(settings.root);
  try {
    const head = git ? readFileSync(join(git.gitDir, 'HEAD'), 'utf8').trim() : '';
    return head.startsWith('ref: refs/heads/') ? head.slice('ref: refs/heads/'.length) : null;
  } catch {
    return null;
  }
}

/** A database on the server other than the source to run CREATE DATABASE from (a session in the source would block it). */
const maintenanceOf = (server: ConnectionTarget, source: string): ConnectionTarget => ({ ...server, database: source === 'postgres' ? 'template1' : 'postgres' });

async function newestSnapshotOf(maintenance: PgClient, source: string): Promise<{ name: string; location: string; createdAt: string } | null> {
  const copies = (await listCopyDatabases(maintenance)).flatMap((c) => (c.meta !== null && c.meta.of === source && c.meta.strategy === 'template' ? [c.meta] : []));
  const newest = copies.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0];
  return newest ? { name: newest.name, location: newest.location, createdAt: newest.createdAt } : null;
}

function copyFailed(error: unknown, worktree: WorktreeTarget): DbguardError {
  if (isDbguardError(error)) return error;
  const code = (error as { code?: string }).code;
  return new DbguardError('WORKTREE_DATABASE_FAILED', `copying ${worktree.source} into this worktree's database ${worktree.database} failed: ${(error as Error).message}; nothing was changed`, {
    hint: code === '53100' ? 'free some disk space (dbguard snapshot list, then dbguard snapshot drop <name>), then dbguard migrate' : 'dbguard migrate   (tries the copy again)', cause: error, details: { sqlState: code ?? null },
  });
}

/**
 * A database under this worktree's name made before git made this worktree: a worktree removed from the
 * same path left it (git worktree remove tells nobody). git writes the linked worktree's `commondir` when
 * it adds it and never again. Unknown (no file): it is this worktree's.
 */
function madeBeforeThisWorktree(settings: Settings, meta: KeptDatabaseMeta): boolean {
  const git = findGitLocation(settings.root);
  const added = git ? statSync(join(git.gitDir, 'commondir'), { throwIfNoEntry: false })?.mtimeMs : undefined;
  return added !== undefined && Date.parse(meta.createdAt) < added;
}

/**
 * The database a removed worktree left under this name, kept as the saved database of the branch it
 * held, so db list shows it and a checkout of that branch (branch databases) brings it back. Where that
 * branch has a saved one already, under a label of its own (listed; db prune drops it when asked).
 */
async function keepAside(maintenance: PgClient, database: string, left: KeptDatabaseMeta): Promise<{ name: string; branch: string | null }> {
  let branch = left.branch ?? 'HEAD';
  if ((await savedState(maintenance, savedBranchDatabaseName(database, branch))).kind !== 'none') branch = `${branch}@${left.createdAt}`;
  const name = savedBranchDatabaseName(database, branch);
  await maintenance.query(`ALTER DATABASE ${quoteIdentifier(database)} RENAME TO ${quoteIdentifier(name)}`);
  await writeKeptComment(maintenance, name, { ...left, kind: 'branch', branch, createdAt: new Date().toISOString() });
  return { name, branch };
}

/** With branch databases, the checked-out branch's saved database (a worktree removed from this path kept it) becomes this one's. */
async function takeSaved(maintenance: PgClient, worktree: WorktreeTarget, branch: string): Promise<Omit<MadeCopy, 'keptAside'> | null> {
  const name = savedBranchDatabaseName(worktree.database, branch);
  const state = await savedState(maintenance, name);
  if (state.kind !== 'whole') return null;
  const started = performance.now();
  await maintenance.query(`ALTER DATABASE ${quoteIdentifier(name)} RENAME TO ${quoteIdentifier(worktree.database)}`);
  // Made for this worktree now: a later command must not take it for one a removed worktree left.
  await writeKeptComment(maintenance, worktree.database, { ...state.meta, kind: 'worktree', worktree: worktree.path, branch, createdAt: new Date().toISOString() });
  const size = await maintenance.query<{ bytes: string }>('SELECT pg_database_size($1)::text AS bytes', [worktree.database]);
  return { database: worktree.database, source: name, snapshot: null, way: 'saved', ended: [], cloned: false, bytes: Number(size.rows[0]?.bytes ?? 0), ms: performance.now() - started };
}

/**
 * The worktree's database, copied from the source when the server does not hold it (or holds a copy a
 * kill left without its comment). Runs with the embedded server's lock held (session `prepare`), so no
 * other worktree copies, starts or stops meanwhile, and no dbguard command of the main worktree is in
 * the source.
 */
async function copyIfMissing(settings: Settings, worktree: WorktreeTarget, server: ConnectionTarget): Promise<MadeCopy | null> {
  const maintenance = await connect(maintenanceOf(server, worktree.source), sessionLimits(settings, undefined));
  try {
    const comment = await databaseComment(maintenance, worktree.database);
    const left = comment === undefined ? null : parseKeptDatabaseComment(comment);
    if (left !== null && !madeBeforeThisWorktree(settings, left)) return null;
    // Its name (with the hash of the worktree's path) and no comment: a copy a kill cut short.
    if (comment !== undefined && left === null) await dropDatabase(maintenance, worktree.database);
    const keptAside = left === null ? null : await keepAside(maintenance, worktree.database, left);
    const branch = branchOf(settings);
    const saved = settings.branchDatabases.enabled && branch !== null ? await takeSaved(maintenance, worktree, branch) : null;
    if (saved !== null) return { ...saved, keptAside };
    // A moment's patience only: an app's pool does not leave, and git is waiting.
    const facts = await templateFacts(maintenance, worktree.source, 300);
    if (!facts.canTemplate) {
      throw new DbguardError('WORKTREE_DATABASE_NOT_ALLOWED', `this role may not copy ${worktree.source} (CREATE DATABASE … TEMPLATE needs CREATEDB and owning it, or a superuser), so this worktree has no database of its own`, {
        hint: `grant it (ALTER ROLE … CREATEDB, and own ${worktree.source}), or set "worktreeDatabases": false in dbguard.config.json to share one database`, details: { database: worktree.source },
      });
    }
    const clone = await canClone(maintenance);
    const snapshot = facts.otherSessions.length > 0 && settings.worktreeDatabases.whenSourceBusy === 'snapshot' ? await newestSnapshotOf(maintenance, worktree.source) : null;
    const way: CopyWay = facts.otherSessions.length === 0 ? 'idle' : snapshot ? 'snapshot' : 'disconnected';
    const started = performance.now();
    const copy = () => copyDatabase(maintenance, worktree.database, snapshot?.location ?? worktree.source, clone);
    if (way === 'disconnected') {
      // The main worktree's next session opens it again if a kill keeps it closed (its closed marker).
      const marker = settings.serverStateDir === null ? null : join(settings.serverStateDir, 'database-closed');
      if (marker) writeFileAtomic(marker, `${worktree.source}\n`, 0o600);
      try {
        await withDatabaseToItself(maintenance, worktree.source, [], copy);
      } finally {
        if (marker) rmSync(marker, { force: true });
      }
    } else {
      await copy();
    }
    const ms = performance.now() - started;
    // Only a whole copy carries the comment: the server then lists exactly what dbguard made (§17).
    await writeKeptComment(maintenance, worktree.database, { kind: 'worktree', worktree: worktree.path, branch: branchOf(settings), source: worktree.source, createdAt: new Date().toISOString() });
    const size = await maintenance.query<{ bytes: string }>('SELECT pg_database_size($1)::text AS bytes', [worktree.database]);
    return {
      database: worktree.database, source: worktree.source, snapshot: snapshot ? { name: snapshot.name, createdAt: snapshot.createdAt } : null,
      way, ended: way === 'disconnected' ? facts.otherSessions : [], cloned: clone, keptAside, bytes: Number(size.rows[0]?.bytes ?? 0), ms,
    };
  } catch (error) {
    throw copyFailed(error, worktree);
  } finally {
    await maintenance.end().catch(() => undefined);
  }
}

export const envFileOf = (settings: Settings) => join(dirname(databaseRef(settings).paths.cacheFile), 'env');

/**
 * `<state dir>/env`: the worktree database's URL as `run.urlVariable`, for tools that read env files
 * (0600: it holds the password). Never into a worktree folder that is gone (git worktree remove).
 */
export function writeEnvFile(settings: Settings, target: ConnectionTarget): string | null {
  if (!existsSync(settings.root)) return null;
  const file = envFileOf(settings);
  writeFileAtomic(file, `${settings.run.urlVariable}=${formatConnectionUrl(target, true)}\n`, 0o600);
  // The state dir ignores itself: a worktree of a commit older than the project's .gitignore entry would
  // otherwise offer the password in it to the next `git add .`.
  const ignore = join(dirname(file), '.gitignore');
  if (!existsSync(ignore)) writeFileAtomic(ignore, '# dbguard\'s state (the env file holds a password)\n*\n', 0o644);
  return file;
}

export interface ReadyOptions {
  readonly report?: Reporter;
  /** The hook's deadline (epoch ms). */
  readonly deadline?: number;
  readonly lockWaitMs?: number;
}

/**
 * Makes the linked worktree's database when it is not made yet (copy, then in step with the branch);
 * null when this checkout has none of its own, or it is made and in step already (nothing is asked then).
 */
export async function readyWorktreeDatabase(settings: Settings, options: ReadyOptions = {}): Promise<WorktreeDatabaseReady | null> {
  const worktree = settings.worktree;
  const ref = databaseRef(settings);
  if (worktree === null || databaseMayExist(ref)) return null;
  let made: MadeCopy | null = null;
  return withSession(settings, {
    destructive: true, create: true, ...options,
    prepare: async (server) => {
      made = await copyIfMissing(settings, worktree, server);
    },
  }, async (session) => {
    // In step with this branch: what it lacks is rolled back in the copy, its rows stashed there (§17).
    const run = await runRollback(session, settings, { report: options.report ?? (() => undefined), noSnapshot: true, ...(options.deadline ? { deadline: options.deadline } : {}) });
    const rolledBack = run.plan.kind === 'rollback' ? run.plan.steps.map((step) => step.version) : [];
    const notInStep = run.plan.kind === 'refuse' ? { message: run.plan.message, fix: run.plan.fix } : null;
    if (existsSync(settings.root)) writeFileAtomic(join(dirname(ref.paths.cacheFile), WORKTREE_DATABASE_FILE), `${worktree.database}\n`, 0o600);
    return { worktree, made, startedServer: session.startedServer, rolledBack, notInStep, envFile: writeEnvFile(settings, session.target) };
  });
}
