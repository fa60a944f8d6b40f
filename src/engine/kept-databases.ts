/**
 * Every database dbguard keeps on the project's server (DESIGN §17): the main worktree's, one per
 * linked worktree, saved branch databases; reconciled with what git lists now, since removing a
 * worktree or deleting a branch runs no hook. A gone one is kept as it is until `dbguard db prune`,
 * which never drops one with a session, and nothing at all when git's listing cannot be trusted.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isLocalHost, parseDatabaseUrl } from '../core/connection.js';
import { DbguardError } from '../core/errors.js';
import type { KeptDatabaseKind } from '../core/kept-database.js';
import { formerNames } from '../core/branch-switch.js';
import { keptByProject, keptStatus, type GitView, type GoneReason } from '../core/kept-reconcile.js';
import type { Settings } from '../core/settings.js';
import { databaseUsage, dropKeptDatabase, listKeptDatabases, type KeptDatabase } from '../db/kept-databases.js';
import { dataDirectory, dropDatabase, listCopyDatabases } from '../db/snapshot.js';
import { lastFileWrite } from '../fs/database-files.js';
import { branchReflog, findGitLocation } from '../fs/git-dir.js';
import { canonicalPath, readGitView } from '../git/worktrees.js';
import type { DbSession } from './db-session.js';
import { allSnapshots } from './snapshot.js';

export interface DatabaseEntry {
  readonly name: string;
  readonly kind: 'main' | KeptDatabaseKind;
  /** The worktree it belongs to (the main one's for the main database), as recorded. */
  readonly worktree: string | null;
  /** A worktree database: the branch checked out there now (git), else as recorded; a saved one: its branch. */
  readonly branch: string | null;
  readonly source: string | null;
  readonly createdAt: string | null;
  readonly bytes: number | null;
  readonly sessions: number;
  /** Now when a session is connected; else when the server last wrote its files (local servers); null: unknown. */
  readonly lastUsedAt: string | null;
  readonly worktreeExists: boolean | null;
  readonly unlisted: boolean;
  readonly branchExists: boolean | null;
  readonly gone: GoneReason | null;
  /** The listing's own record, which prune re-checks before it drops. */
  readonly kept: KeptDatabase | null;
}

export interface DatabaseSurvey {
  readonly main: string;
  readonly git: GitView;
  readonly databases: readonly DatabaseEntry[];
  /** Snapshots of these databases (copies on the server and dump files in the state dir). */
  readonly snapshots: { readonly count: number; readonly bytes: number };
  readonly totalBytes: number;
}

/** The main worktree's database: the configured one (a linked worktree's session may work on its own). */
export function mainDatabaseOf(settings: Settings): string {
  // A linked worktree's settings name its own database; the main worktree's is the one it was copied from.
  if (settings.worktree !== null) return settings.worktree.source;
  return settings.database.kind === 'external' ? parseDatabaseUrl(settings.database.url).database : settings.database.database;
}

/** When a database was last used, as far as the server tells (see lastFileWrite). */
function lastUsed(sessions: number, dataDir: string | null, oid: number, now: Date): string | null {
  if (sessions > 0) return now.toISOString();
  return dataDir === null ? null : lastFileWrite(dataDir, oid)?.toISOString() ?? null;
}

/** This project's kept databases on the server (another project's, on a shared server, are not its to judge). */
async function projectKept(session: DbSession, main: string): Promise<KeptDatabase[]> {
  return (await listKeptDatabases(session.client)).filter((k) => k.name !== main && keptByProject(main, k.name, k.meta));
}

/** Every database of the project on the session's server, each kept one judged against what git lists now. */
export async function surveyDatabases(session: DbSession, settings: Settings): Promise<DatabaseSurvey> {
  const main = mainDatabaseOf(settings);
  return judged(session, settings, main, await projectKept(session, main), true);
}

/**
 * For other commands' one-line notice: how many of the project's databases `db prune` would drop, and
 * their size. Costs one query, and git only when the project keeps any database at all.
 */
export async function prunableSummary(session: DbSession, settings: Settings): Promise<{ count: number; bytes: number } | null> {
  const main = mainDatabaseOf(settings);
  const kept = await projectKept(session, main);
  if (kept.length === 0) return null;
  const gone = prunable(await judged(session, settings, main, kept, false), session);
  return gone.length === 0 ? null : { count: gone.length, bytes: gone.reduce((sum, d) => sum + (d.bytes ?? 0), 0) };
}

/** The names branches had before `git branch -m`, from their reflogs: a saved database of one is the renamed branch's. */
function withRenames(view: GitView, gitDir: string): GitView {
  if (!view.listed || view.branches === null) return view;
  const renamed = new Map([...view.branches].flatMap((branch) => formerNames(branchReflog(gitDir, branch), branch).map((old) => [old, branch] as const)));
  return { ...view, renamed };
}

/** `full`: also when each was last written and the snapshots (db list); a notice needs neither. */
async function judged(session: DbSession, settings: Settings, main: string, kept: readonly KeptDatabase[], full: boolean): Promise<DatabaseSurvey> {
  const now = new Date();
  const location = findGitLocation(settings.root);
  const git: GitView = location === null ? { listed: false, reason: `${settings.root} is not inside a git repository` } : withRenames(await readGitView(settings.root, location.worktree), location.gitDir);
  const dataDir = full && isLocalHost(session.target.host) ? await dataDirectory(session.client) : null;
  const mainUsage = await databaseUsage(session.client, main);
  const mainWorktree = git.listed ? git.worktrees[0] : undefined;
  const databases: DatabaseEntry[] = [];
  if (mainUsage !== null) {
    databases.push({
      name: main, kind: 'main', worktree: mainWorktree?.path ?? null, branch: mainWorktree?.branch ?? null, source: null, createdAt: null,
      bytes: mainUsage.bytes, sessions: mainUsage.sessions, lastUsedAt: lastUsed(mainUsage.sessions, dataDir, mainUsage.oid, now),
      worktreeExists: git.listed ? true : null, unlisted: false, branchExists: null, gone: null, kept: null,
    });
  }
  for (const k of kept) {
    const path = canonicalPath(k.meta.worktree);
    const status = keptStatus(k.meta, git, path, existsSync(join(k.meta.worktree, '.git')));
    const checkedOut = git.listed && k.meta.kind === 'worktree' ? git.worktrees.find((w) => w.path === path) : undefined;
    databases.push({
      name: k.name, kind: k.meta.kind, worktree: k.meta.worktree, branch: checkedOut ? checkedOut.branch : k.meta.branch, source: k.meta.source, createdAt: k.meta.createdAt,
      bytes: k.bytes, sessions: k.sessions, lastUsedAt: lastUsed(k.sessions, dataDir, k.oid, now), ...status, kept: k,
    });
  }
  const names = new Set(databases.map((d) => d.name));
  const snapshots = full ? (await allSnapshots(session)).filter((s) => names.has(s.of)) : [];
  const snapshotBytes = snapshots.reduce((sum, s) => sum + (s.bytes ?? 0), 0);
  return {
    main, git, databases,
    snapshots: { count: snapshots.length, bytes: snapshotBytes },
    totalBytes: databases.reduce((sum, d) => sum + (d.bytes ?? 0), 0) + snapshotBytes,
  };
}

/** What `dbguard db prune` may drop: gone, and not the database this command itself works on. */
export function prunable(survey: DatabaseSurvey, session: DbSession): DatabaseEntry[] {
  return survey.databases.filter((d) => d.gone !== null && d.kept !== null && d.name !== session.target.database);
}

/** Prune refuses outright when git's answer cannot be trusted: an empty or failed list reads "all gone". */
export function trustedGitView(git: GitView): Extract<GitView, { listed: true }> {
  if (git.listed) return git;
  throw new DbguardError('WORKTREES_UNKNOWN', `git could not list this repository's worktrees (${git.reason}), so nothing is treated as removed; nothing was dropped`, {
    hint: 'run git worktree list to see why (git worktree repair fixes moved worktrees), then dbguard db prune again',
    details: { reason: git.reason },
  });
}

export interface PruneOutcome {
  readonly dropped: readonly DatabaseEntry[];
  /** A session connected: kept, never forced. */
  readonly inUse: readonly DatabaseEntry[];
  /** Changed since the listing (another database under that name now): left alone. */
  readonly changed: readonly DatabaseEntry[];
  readonly failed: ReadonlyArray<{ readonly entry: DatabaseEntry; readonly message: string }>;
  /** Snapshots of the dropped databases, dropped with them: nothing could list or restore them after. */
  readonly snapshots: readonly string[];
}

/** The snapshots taken of each of `names` (snapshot list shows only the current database's). */
export async function snapshotsOf(session: DbSession, names: readonly string[]): Promise<Map<string, string[]>> {
  const byDatabase = new Map<string, string[]>();
  for (const copy of await listCopyDatabases(session.client)) {
    if (copy.meta === null || !names.includes(copy.meta.of)) continue;
    byDatabase.set(copy.meta.of, [...(byDatabase.get(copy.meta.of) ?? []), copy.datname]);
  }
  return byDatabase;
}

/** Drops `victims` one by one; one that cannot be dropped is reported and the rest go on. */
export async function pruneDatabases(session: DbSession, victims: readonly DatabaseEntry[]): Promise<PruneOutcome> {
  const outcome = { dropped: [] as DatabaseEntry[], inUse: [] as DatabaseEntry[], changed: [] as DatabaseEntry[], failed: [] as Array<{ entry: DatabaseEntry; message: string }>, snapshots: [] as string[] };
  const snapshots = await snapshotsOf(session, victims.map((v) => v.name));
  for (const victim of victims) {
    if (victim.kept === null) continue;
    if (victim.sessions > 0) {
      outcome.inUse.push(victim);
      continue;
    }
    try {
      const result = await dropKeptDatabase(session.client, victim.kept);
      (result === 'dropped' ? outcome.dropped : result === 'in-use' ? outcome.inUse : outcome.changed).push(victim);
      if (result !== 'dropped') continue;
      for (const name of snapshots.get(victim.name) ?? []) {
        if (await dropDatabase(session.client, name).then(() => true, () => false)) outcome.snapshots.push(name);
      }
    } catch (error) {
      outcome.failed.push({ entry: victim, message: (error as Error).message });
    }
  }
  return outcome;
}
