/**
 * Snapshots and undo (DESIGN §12). A snapshot is a copy database on the same server when nothing else
 * uses the database (exact, and as fast as the server copies files), else — for an external database —
 * a pg_dump file in the state dir. Restoring swaps the copy in atomically and keeps what it replaced as
 * a snapshot of its own; the cache is then derived from the restored tracking table.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  assertSnapshotName, chooseSnapshotStrategy, newSnapshotMeta, retentionVictims, undoTarget,
  type Snapshot, type SnapshotMeta, type SnapshotReason,
} from '../core/snapshot.js';
import { DbguardError } from '../core/errors.js';
import type { Settings } from '../core/settings.js';
import { readSchemaVersion } from '../db/schema-migrations.js';
import { createCopy, dataDirectory, dropDatabase, dropHalfWritten, listCopyDatabases, lockSnapshots, swapInCopy, templateFacts, withDatabaseToItself } from '../db/snapshot.js';
import { userSchemas, type PgClient } from '../db/client.js';
import { readStateText, writeFileAtomic } from '../fs/state.js';
import { readBranchOwner } from '../fs/branch-state.js';
import { readBoundedText } from '../fs/bounded-read.js';
import { filesCanBeCloned } from '../fs/clone-probe.js';
import { rewriteCache } from './capture.js';
import { closedMarkerPath, type DbSession } from './session.js';

/** A snapshot's metadata is a few hundred bytes; anything larger (or not a regular file) is not one. */
const MAX_SNAPSHOT_META_BYTES = 64 * 1024;

/** Clone the database's files where the server's data directory is on this machine, on a disk that clones (§16). */
export async function canClone(maintenance: PgClient): Promise<boolean> {
  const dir = await dataDirectory(maintenance);
  return dir !== null && filesCanBeCloned(dir);
}

const random = () => randomBytes(4).toString('hex');

function dumpDir(session: DbSession): string {
  return join(session.ref.paths.cacheFile, '..', 'snapshots');
}

/** Dump snapshots: `<location>.sql`, finished only once `<location>.json` is written beside it. */
function listDumps(session: DbSession): Snapshot[] {
  const dir = dumpDir(session);
  if (!existsSync(dir)) return [];
  const found: Snapshot[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.json')) continue;
    try {
      const meta = JSON.parse(readBoundedText(join(dir, file), MAX_SNAPSHOT_META_BYTES)) as SnapshotMeta;
      found.push({ ...meta, bytes: statSync(join(dir, meta.location)).size });
    } catch {
      // A metadata file without its dump, or unreadable: not a snapshot.
    }
  }
  return found;
}

/** Every finished snapshot this server and state dir hold, of any database (newest first). */
export async function allSnapshots(session: DbSession): Promise<Snapshot[]> {
  const copies = (await listCopyDatabases(session.client))
    .filter((c) => c.meta !== null)
    .map((c) => ({ ...(c.meta as SnapshotMeta), bytes: c.bytes }));
  return [...copies, ...listDumps(session)].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
}

export async function listSnapshots(session: DbSession): Promise<Snapshot[]> {
  return (await allSnapshots(session)).filter((s) => s.of === session.target.database);
}

async function dropSnapshotData(session: DbSession, snapshot: SnapshotMeta): Promise<void> {
  if (snapshot.strategy === 'template') {
    await dropDatabase(session.client, snapshot.location);
    return;
  }
  rmSync(join(dumpDir(session), `${snapshot.location}.json`), { force: true });
  rmSync(join(dumpDir(session), snapshot.location), { force: true });
}

async function applyRetention(session: DbSession, settings: Settings): Promise<void> {
  for (const victim of retentionVictims(await listSnapshots(session), settings.snapshots.keep)) await dropSnapshotData(session, victim);
}

export interface SaveOptions {
  readonly reason: SnapshotReason;
  readonly name?: string;
  /** §14: end the other sessions for the copy (--disconnect, "snapshots": { "disconnect": true }). */
  readonly disconnect?: boolean;
  /** Before a rollback: with others connected go on without a snapshot (null), rather than refuse. */
  readonly goOnWithout?: boolean;
}

/**
 * Takes a snapshot of the session's database. Automatic ones (any reason but manual) are subject to
 * retention. Throws SNAPSHOT_UNAVAILABLE, changing nothing, when no strategy fits (§12); returns
 * `{ skipped }` only with goOnWithout, naming the sessions that kept it from copying.
 */
export async function saveSnapshot(session: DbSession, settings: Settings, options: SaveOptions & { goOnWithout: true }): Promise<Snapshot | { skipped: readonly string[] }>;
export async function saveSnapshot(session: DbSession, settings: Settings, options: SaveOptions): Promise<Snapshot>;
export async function saveSnapshot(session: DbSession, settings: Settings, options: SaveOptions): Promise<Snapshot | { skipped: readonly string[] }> {
  const database = session.target.database;
  const existing = await listSnapshots(session);
  const names = new Set(existing.map((s) => s.name));
  if (options.name !== undefined) {
    assertSnapshotName(options.name);
    if (names.has(options.name)) {
      throw new DbguardError('SNAPSHOT_EXISTS', `a snapshot named "${options.name}" already exists; nothing was changed`, {
        hint: `dbguard snapshot drop ${options.name}   (or choose another name)`,
      });
    }
  }
  const version = (await readSchemaVersion(session.client, session.format))?.version ?? null;
  const facts = await templateFacts(session.client, database);
  const choice = chooseSnapshotStrategy({
    ...facts, embedded: session.ref.kind === 'embedded',
    dumpTools: facts.canTemplate && (facts.otherSessions.length === 0 || options.disconnect) ? null : (await import('../db/pg-dump.js')).findDumpTools(),
  }, database, { disconnect: options.disconnect ?? false, goOnWithout: options.goOnWithout ?? false, manual: options.reason === 'manual' });
  if ('skip' in choice) return { skipped: choice.skip };
  const { strategy } = choice;
  const meta = newSnapshotMeta({ of: database, reason: options.reason, name: options.name, taken: names, version, at: new Date(), strategy, random: random() });
  let snapshot: Snapshot;
  if (strategy === 'template') {
    snapshot = await session.detached(async (maintenance) => {
      await lockSnapshots(maintenance);
      await dropHalfWritten(maintenance);
      const clone = await canClone(maintenance);
      return choice.disconnect ? toItself(session, maintenance, [], () => createCopy(maintenance, meta, clone)) : createCopy(maintenance, meta, clone);
    });
  } else {
    const dir = dumpDir(session);
    mkdirSync(dir, { recursive: true });
    const partial = join(dir, `${meta.location}.partial`);
    const { dumpDatabase } = await import('../db/pg-dump.js');
    try {
      dumpDatabase(session.target, partial);
    } catch (error) {
      rmSync(partial, { force: true });
      throw error;
    }
    renameSync(partial, join(dir, meta.location));
    writeFileAtomic(join(dir, `${meta.location}.json`), JSON.stringify(meta), 0o600);
    snapshot = { ...meta, bytes: statSync(join(dir, meta.location)).size };
  }
  if (snapshot.auto) await applyRetention(session, settings);
  return snapshot;
}

async function findSnapshot(session: DbSession, name: string): Promise<Snapshot> {
  const all = await allSnapshots(session);
  const found = all.find((s) => s.name === name && s.of === session.target.database) ?? all.find((s) => s.name === name);
  if (!found) {
    const mine = all.filter((s) => s.of === session.target.database).map((s) => s.name);
    throw new DbguardError('SNAPSHOT_NOT_FOUND', `no snapshot named "${name}"${mine.length ? ` (there are: ${mine.slice(0, 5).join(', ')})` : ''}; nothing was changed`, {
      hint: 'dbguard snapshot list',
    });
  }
  if (found.of !== session.target.database) {
    throw new DbguardError('SNAPSHOT_OTHER_DATABASE', `snapshot "${name}" is of database "${found.of}", not "${session.target.database}"; nothing was changed`, {
      hint: `dbguard snapshot list   (run from the project whose database is "${found.of}" to restore it)`, details: { of: found.of },
    });
  }
  return found;
}

export interface RestoreResult {
  readonly restored: Snapshot;
  /** The state the restore replaced, kept as a snapshot (null for a dump restore, which snapshots first). */
  readonly replaced: SnapshotMeta | null;
}

export async function toItself<T>(session: DbSession, maintenance: PgClient, names: readonly string[], work: () => Promise<T>): Promise<T> {
  const marker = closedMarkerPath(session);
  writeFileAtomic(marker, `${session.target.database}\n`, 0o600);
  try {
    return await withDatabaseToItself(maintenance, session.target.database, names, work);
  } finally {
    rmSync(marker, { force: true });
  }
}

/** What a restore may do about other sessions: a restore replaces the database, so it asks first (§14). */
export interface RestoreOptions {
  readonly disconnect?: boolean;
}

export async function restoreSnapshot(session: DbSession, settings: Settings, name: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const snapshot = await findSnapshot(session, name);
  const database = session.target.database;
  if (snapshot.strategy === 'template') {
    const facts = await templateFacts(session.client, database);
    if (facts.otherSessions.length > 0 && !options.disconnect) {
      throw new DbguardError('SNAPSHOT_UNAVAILABLE', `cannot restore "${database}" while other sessions use it (${facts.otherSessions.join(', ')}); nothing was changed`, {
        hint: 'add --disconnect to end those sessions for the restore (a pool reconnects), or close them (stop your app, quit psql)', details: { otherSessions: facts.otherSessions },
      });
    }
    const replaced = newSnapshotMeta({
      of: database, reason: 'restore', taken: new Set((await listSnapshots(session)).map((s) => s.name)),
      version: (await readSchemaVersion(session.client, session.format))?.version ?? null, at: new Date(), strategy: 'template', random: random(),
    });
    await session.detached(async (maintenance) => {
      await lockSnapshots(maintenance);
      await dropHalfWritten(maintenance);
      const clone = await canClone(maintenance);
      const swap = () => swapInCopy(maintenance, database, snapshot, replaced, random(), clone);
      await (facts.otherSessions.length > 0 ? toItself(session, maintenance, [replaced.location], swap) : swap());
    });
    await rewriteCache(session);
    await applyRetention(session, settings);
    return { restored: snapshot, replaced };
  }
  // A dump restores into the live database: snapshot what it replaces first, by whatever strategy fits.
  const before = await saveSnapshot(session, settings, { reason: 'restore' });
  const { restoreDump } = await import('../db/pg-dump.js');
  const dir = dumpDir(session);
  restoreDump(session.target, join(dir, snapshot.location), await userSchemas(session.client), join(dir, `restore-${random()}.sql`));
  await rewriteCache(session);
  return { restored: snapshot, replaced: before };
}

/** Where the time of the last change made without a snapshot before it is kept, beside the cache. */
const unsnapshottedFile = (session: DbSession) => join(dirname(session.ref.paths.cacheFile), 'changed-without-snapshot');

/** A destructive operation went on without a snapshot (others connected, --no-snapshot, snapshots off). */
export function markChangedWithoutSnapshot(session: DbSession): void {
  try {
    writeFileAtomic(unsnapshottedFile(session), new Date().toISOString(), 0o644, false);
  } catch {
    // Not writable: undo then cannot tell, as before; the rollback itself succeeded.
  }
}

export function changedWithoutSnapshotAt(session: DbSession): Date | null {
  const text = readStateText(unsnapshottedFile(session));
  const at = text === null ? null : new Date(text.trim());
  return at === null || Number.isNaN(at.getTime()) ? null : at;
}

/** `dbguard undo`: the snapshot taken before the last destructive operation, restored. */
export async function undoLast(session: DbSession, settings: Settings, options: RestoreOptions = {}): Promise<RestoreResult> {
  const target = undoTarget(await listSnapshots(session));
  // §17: since the newest snapshot (or with none) the database was switched to this branch's as the branch
  // left it, and the previous branch's database is kept: switching back is the undo of the switch.
  const owner = readBranchOwner(session.ref.paths.cacheFile, session.target.database);
  if (owner?.switchedAt && (!target || new Date(owner.switchedAt) > new Date(target.createdAt))) {
    throw new DbguardError('UNDO_NOT_NEEDED', `undo is not needed after a branch switch: "${session.target.database}" became ${owner.branch}'s database at ${owner.switchedAt}, exactly as ${owner.branch} left it, and the previous branch's database is kept; nothing was changed`, {
      hint: `switching back is the undo: git checkout <the previous branch>${target ? `   (or dbguard snapshot restore ${target.name} for ${owner.branch}'s database as it was then)` : ''}`,
      details: { branch: owner.branch, switchedAt: owner.switchedAt, snapshot: target?.name ?? null },
    });
  }
  if (!target) {
    throw new DbguardError('SNAPSHOT_NOT_FOUND', `there is nothing to undo: no automatic snapshot of "${session.target.database}"; nothing was changed`, {
      hint: 'dbguard snapshot list',
    });
  }
  // The last rollback took none: the newest snapshot is from before it, and would undo more than that rollback.
  const unsnapshotted = changedWithoutSnapshotAt(session);
  if (unsnapshotted && unsnapshotted > new Date(target.createdAt)) {
    throw new DbguardError('UNDO_STALE', `the last rollback (${unsnapshotted.toISOString()}) took no snapshot; the newest one, ${target.name}, is older, and restoring it would also undo everything since it was taken; nothing was changed`, {
      hint: `dbguard snapshot restore ${target.name}   (only if you want the database as it was then), or re-apply with dbguard migrate`,
      details: { snapshot: target.name, snapshotAt: target.createdAt, changedWithoutSnapshotAt: unsnapshotted.toISOString() },
    });
  }
  return restoreSnapshot(session, settings, target.name, options);
}

export async function dropSnapshot(session: DbSession, name: string): Promise<Snapshot> {
  const snapshot = await findSnapshot(session, name);
  await dropSnapshotData(session, snapshot);
  return snapshot;
}

export interface AutoSnapshotOptions {
  /** --no-snapshot. */
  readonly skip: boolean;
  readonly disconnect?: boolean;
  /** With others connected, go on without one (a rollback: the stash keeps the rows) and say so here. */
  readonly onBusy?: (sessions: readonly string[]) => void;
}

/**
 * The automatic snapshot before a destructive operation, unless turned off (config or --no-snapshot).
 * Reports it, so the person knows `dbguard undo` exists before anything changes.
 */
export async function snapshotBefore(session: DbSession, settings: Settings, reason: SnapshotReason, options: AutoSnapshotOptions): Promise<Snapshot | null> {
  if (options.skip || !settings.snapshots.enabled) return null;
  const disconnect = options.disconnect || settings.snapshots.disconnect;
  if (!options.onBusy) return saveSnapshot(session, settings, { reason, disconnect });
  const taken = await saveSnapshot(session, settings, { reason, disconnect, goOnWithout: true });
  if ('skipped' in taken) {
    options.onBusy(taken.skipped);
    return null;
  }
  return taken;
}
