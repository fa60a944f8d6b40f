/**
 * A database for every branch (DESIGN §17): on a checkout from A to B, A's database is kept under its
 * saved name and B's saved database takes the worktree's name, in one transaction (O(1) whatever the
 * size), exactly as B left it. A branch without one gets a copy of A's, brought in step with B by the
 * rollback engine in the copy; A's own database is kept either way, so nothing is lost.
 */
import type { BranchSwitch } from '../core/branch-switch.js';
import { savedBeyondKeep } from '../core/branch-switch.js';
import { DbguardError } from '../core/errors.js';
import { savedBranchDatabaseName } from '../core/kept-database.js';
import type { Settings } from '../core/settings.js';
import { listVersions } from '../core/text.js';
import { savedState, swapBranchDatabases } from '../db/branch-rename.js';
import { type PgClient } from '../db/client.js';
import { listKeptDatabases } from '../db/kept-databases.js';
import { copyDatabase, copyProperties, dropDatabase, lockSnapshots, readTemplateFacts, reopenIfClosed, templateFacts } from '../db/snapshot.js';
import { readBranchOwner, readPendingSwitch, removePendingSwitch, writeBranchOwner, writePendingSwitch, type BranchOwner } from '../fs/branch-state.js';
import { formatOf } from '../formats/index.js';
import { lockTimeoutMs } from '../fs/lock-file.js';
import { removeCacheFile } from '../fs/state.js';
import { rewriteCache } from './capture.js';
import { previousTreeSource } from './down-sql.js';
import { runRollback } from './rollback.js';
import { withSession, type DbSession } from './session.js';
import { canClone, toItself } from './snapshot.js';

export interface SwitchRequest {
  readonly change: BranchSwitch;
  /** The worktree's top folder (what a saved database's comment names). */
  readonly worktree: string;
  /** The commit left: its tree has the down SQL a copy may need to be brought in step. */
  readonly prev: string;
  readonly deadline: number;
  /** DBGUARD_TEST_PAUSE_BETWEEN_RENAMES (ms): the crash tests kill the run there. */
  readonly pauseMs?: number;
  /** The names the branch arriving had before (`git branch -m`), newest first: their saved database is its. */
  readonly formerNames?: readonly string[];
}

const sessionOptions = (settings: Settings, deadline: number) => ({ destructive: true, deadline, lockWaitMs: Math.min(lockTimeoutMs(), settings.timeouts.hookMs) });

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;

interface Swapped {
  readonly created: boolean;
  /** The arriving branch's database was saved under a name it had before (renamed since). */
  readonly formerName: string | null;
  readonly ended: readonly string[];
  readonly pruned: readonly string[];
  readonly bytes: number;
}

function busy(database: string, sessions: readonly string[], branch: string): DbguardError {
  return new DbguardError('BRANCH_DATABASE_BUSY', `${sessions.join(', ')} ${sessions.length === 1 ? 'is' : 'are'} connected to "${database}" and could not be ended; nothing was renamed, the database is still the previous branch's`, {
    hint: `close ${sessions.length === 1 ? 'it' : 'them'} (stop your app, quit psql), then: git checkout ${branch}   (switches the database)`, details: { sessions },
  });
}

/** The renames, with the database to itself for their moment (its other sessions ended, a pool reconnects). */
async function swapOnServer(session: DbSession, settings: Settings, request: SwitchRequest, startedAt: string): Promise<Swapped> {
  const database = session.target.database;
  const { from, to } = request.change;
  const leavingAs = savedBranchDatabaseName(database, from);
  let arriving = savedBranchDatabaseName(database, to);
  let formerName: string | null = null;
  return session.detached(async (maintenance) => {
    await lockSnapshots(maintenance);
    // A run killed after its renames committed left the saved one closed; one killed while copying, half made.
    await reopenIfClosed(maintenance, arriving);
    let state = await savedState(maintenance, arriving);
    if (state.kind === 'half') {
      await dropDatabase(maintenance, arriving);
      state = { kind: 'none' };
    }
    // `git branch -m` fires no hook: the database saved under a name the branch had before is its own.
    for (const old of state.kind === 'none' ? request.formerNames ?? [] : []) {
      const before = await savedState(maintenance, savedBranchDatabaseName(database, old));
      if (before.kind !== 'whole') continue;
      [arriving, state, formerName] = [savedBranchDatabaseName(database, old), before, old];
      break;
    }
    if ((await savedState(maintenance, leavingAs)).kind === 'whole') {
      throw new DbguardError('BRANCH_DATABASE_BUSY', `a saved database for "${from}" already exists ("${leavingAs}") while "${database}" is also ${from}'s; nothing was renamed`, {
        hint: `dbguard db list   (then drop the one you do not need: psql -c 'DROP DATABASE "${leavingAs}"', and check out ${to} again)`,
      });
    }
    const arrivingSessions = state.kind === 'whole' ? (await templateFacts(maintenance, arriving)).otherSessions : [];
    if (arrivingSessions.length > 0) throw busy(arriving, arrivingSessions, to);
    const connected = (await readTemplateFacts(maintenance, database)).otherSessions;
    const created = state.kind === 'none';
    const clone = created && await canClone(maintenance);
    await toItself(session, maintenance, [leavingAs], async () => {
      const left = (await templateFacts(maintenance, database)).otherSessions;
      if (left.length > 0) throw busy(database, left, to);
      if (created) {
        await copyDatabase(maintenance, arriving, database, clone);
        await copyProperties(maintenance, database, arriving);
      }
      // The cache described the database leaving; it is rebuilt from the one arriving (a kill: by the next command).
      removeCacheFile(session.ref.paths.cacheFile);
      await swapBranchDatabases(maintenance, {
        database, leavingAs, arriving, arrivingBranch: to,
        leaving: { kind: 'branch', worktree: request.worktree, branch: from, source: null, createdAt: startedAt },
      }, async () => {
        if (!request.pauseMs) return;
        process.stderr.write(`dbguard: test pause between the renames (pid ${process.pid})\n`);
        await new Promise((resolve) => setTimeout(resolve, request.pauseMs));
      });
    });
    const pruned = await pruneBeyondKeep(maintenance, database, settings.branchDatabases.keep);
    const size = await maintenance.query<{ bytes: string }>('SELECT pg_database_size($1)::text AS bytes', [database]);
    return { created, formerName, ended: connected, pruned, bytes: Number(size.rows[0]?.bytes ?? 0) };
  });
}

/** `"branchDatabases": { "keep": N }`: this worktree's saved databases beyond N, least recently used first. */
async function pruneBeyondKeep(maintenance: PgClient, database: string, keep: number | null): Promise<string[]> {
  if (keep === null) return [];
  const saved = (await listKeptDatabases(maintenance))
    .filter((kept) => kept.meta.kind === 'branch' && kept.meta.branch !== null && savedBranchDatabaseName(database, kept.meta.branch) === kept.name)
    .map((kept) => ({ name: kept.name, savedAt: kept.meta.createdAt, sessions: kept.sessions, branch: kept.meta.branch as string }));
  const dropped: string[] = [];
  for (const name of savedBeyondKeep(saved, keep)) {
    // A session that connected since the listing keeps its database (DROP refuses): it is never one with a session.
    if (await dropDatabase(maintenance, name).then(() => true, () => false)) dropped.push(saved.find((s) => s.name === name)?.branch ?? name);
  }
  return dropped;
}

/** The copy a new branch starts from, brought in step with it in the copy (phantoms rolled back there). */
async function bringInStep(session: DbSession, settings: Settings, request: SwitchRequest, err: (line: string) => void): Promise<void> {
  const run = await runRollback(session, settings, {
    extraSources: [previousTreeSource(settings.root, request.prev, settings.migrationsDir, formatOf(settings))],
    deadline: request.deadline, noSnapshot: true, report: () => undefined,
  });
  const { plan } = run;
  if (plan.kind === 'rollback') {
    err(`  brought in step with ${request.change.to}: rolled back ${listVersions(plan.steps.map((s) => s.version))} in the copy; database at ${plan.to ?? 'nothing applied'}`);
  } else if (plan.kind === 'refuse') {
    err(`  ${request.change.to} lacks ${listVersions(plan.versions)}, which the copy has applied; left as it is (${plan.reason}: ${plan.message})`);
    err(`  next: ${plan.fix}`);
  }
}

/** Switches the worktree's database from `change.from`'s to `change.to`'s; tells what it did in a few lines. */
export async function switchBranchDatabase(settings: Settings, request: SwitchRequest, err: (line: string) => void): Promise<void> {
  const started = Date.now();
  const { from, to } = request.change;
  await withSession(settings, sessionOptions(settings, request.deadline), async (session) => {
    const database = session.target.database;
    const cacheFile = session.ref.paths.cacheFile;
    const startedAt = new Date().toISOString();
    writePendingSwitch(cacheFile, { from, to, database, startedAt });
    let swapped: Swapped;
    try {
      swapped = await swapOnServer(session, settings, request, startedAt);
    } catch (error) {
      // Nothing was renamed (the transaction rolled back): the database is still the branch's it was.
      writeBranchOwner(cacheFile, { database, branch: from, switchedAt: readBranchOwner(cacheFile, database)?.switchedAt ?? null });
      removePendingSwitch(cacheFile);
      await rewriteCache(session).catch(() => undefined);
      throw error;
    }
    writeBranchOwner(cacheFile, { database, branch: to, switchedAt: startedAt });
    removePendingSwitch(cacheFile);
    await rewriteCache(session);
    const ms = Date.now() - started;
    if (swapped.created) {
      err(`dbguard: ${to} had no database of its own: "${database}" is now a copy of ${from}'s (${mb(swapped.bytes)}, ${ms} ms); ${from}'s is kept for when you switch back`);
      await bringInStep(session, settings, request, err);
    } else {
      const was = swapped.formerName === null ? to : `${to} (saved as ${swapped.formerName}, its name before git branch -m)`;
      err(`dbguard: "${database}" is now ${to}'s database, as ${was} left it (${ms} ms); ${from}'s is kept for when you switch back`);
    }
    const n = swapped.ended.length;
    if (n > 0) err(`dbguard: ended ${n} ${n === 1 ? 'session' : 'sessions'} of "${database}" for the switch (${swapped.ended.join(', ')}); a pool reconnects, now to ${to}'s database`);
    if (swapped.pruned.length > 0) err(`dbguard: dropped the saved databases of ${swapped.pruned.join(', ')} ("branchDatabases": { "keep": ${settings.branchDatabases.keep} })`);
  });
}

/**
 * A switch the last run began and did not finish (killed, or its hook timed out): the server says
 * whether its renames committed (the leaving branch's saved database carries the switch's time).
 * Records whose the worktree's database is now, and rebuilds the cache from it. Returns that owner.
 */
export async function settlePendingSwitch(settings: Settings, deadline: number): Promise<BranchOwner | null> {
  return withSession(settings, sessionOptions(settings, deadline), async (session) => {
    const cacheFile = session.ref.paths.cacheFile;
    const pending = readPendingSwitch(cacheFile);
    if (pending === null || pending.database !== session.target.database) {
      removePendingSwitch(cacheFile);
      return null;
    }
    const leaving = await session.detached((maintenance) => savedState(maintenance, savedBranchDatabaseName(pending.database, pending.from)));
    const done = leaving.kind === 'whole' && leaving.meta.createdAt === pending.startedAt;
    const owner = { database: pending.database, branch: done ? pending.to : pending.from, switchedAt: done ? pending.startedAt : null };
    writeBranchOwner(cacheFile, owner);
    removePendingSwitch(cacheFile);
    await rewriteCache(session);
    return owner;
  });
}
