/**
 * Snapshots (DESIGN §12) as data: what a snapshot says about itself, how its database is named, which
 * automatic ones retention drops, and which strategy a database allows. No I/O: the adapters read the
 * facts (other sessions, privileges, pg_dump on PATH) and hand them here.
 */
import { DbguardError } from './errors.js';

/** Where a snapshot lives: a copy database on the same server, or a pg_dump file in the state dir. */
export type SnapshotStrategy = 'template' | 'dump';

/** Why an automatic snapshot was taken; `manual` for `dbguard snapshot save`. */
export type SnapshotReason = 'rollback' | 'reset' | 'replay' | 'restore' | 'manual';

export interface SnapshotMeta {
  /** The name a person uses: given to `snapshot save`, or made from the reason and the time. */
  readonly name: string;
  /** The database it is a copy of (its name on the server). */
  readonly of: string;
  readonly reason: SnapshotReason;
  readonly auto: boolean;
  /** schema_migrations when it was taken (null: nothing applied). */
  readonly version: string | null;
  readonly createdAt: string;
  readonly strategy: SnapshotStrategy;
  /** The copy database's name (template) or the dump file's name (dump). */
  readonly location: string;
}

export interface Snapshot extends SnapshotMeta {
  readonly bytes: number | null;
}

/** Comments written on a finished copy database start with this; one without it is half-written. */
export const SNAPSHOT_COMMENT_PREFIX = 'dbguard snapshot ';
/** Every copy database's name starts with this, so a half-written one is still recognised. */
export const SNAPSHOT_DATABASE_PREFIX = 'dbguard_snap_';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function assertSnapshotName(name: string): void {
  if (!NAME.test(name)) {
    throw new DbguardError('USAGE', `"${name}" is not a valid snapshot name (letters, digits, "._-", at most 63, starting with a letter or digit)`, {
      hint: 'dbguard snapshot save before-big-change',
    });
  }
}

const stamp = (at: Date) => at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

/** `rollback-20261126-103145`; `taken` breaks ties within a second. */
export function automaticSnapshotName(reason: SnapshotReason, at: Date, taken: ReadonlySet<string>): string {
  const base = `${reason}-${stamp(at)}`;
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** The copy database's name: unique, short (63 bytes), and recognisably dbguard's. */
export function snapshotDatabaseName(at: Date, random: string): string {
  return `${SNAPSHOT_DATABASE_PREFIX}${stamp(at).replace('-', '')}_${random.replace(/[^a-z0-9]/g, '').slice(0, 8)}`;
}

/** A new snapshot's record: named by the person or by its reason and time, located by its strategy. */
export function newSnapshotMeta(input: {
  readonly of: string; readonly reason: SnapshotReason; readonly name?: string | undefined; readonly taken: ReadonlySet<string>;
  readonly version: bigint | null; readonly at: Date; readonly strategy: SnapshotStrategy; readonly random: string;
}): SnapshotMeta {
  const copy = snapshotDatabaseName(input.at, input.random);
  return {
    name: input.name ?? automaticSnapshotName(input.reason, input.at, input.taken), of: input.of, reason: input.reason, auto: input.reason !== 'manual',
    version: input.version === null ? null : input.version.toString(), createdAt: input.at.toISOString(), strategy: input.strategy,
    location: input.strategy === 'template' ? copy : `${copy}.sql`,
  };
}

export function encodeSnapshotComment(meta: SnapshotMeta): string {
  return SNAPSHOT_COMMENT_PREFIX + JSON.stringify(meta);
}

/** The metadata of a finished snapshot, or null (no comment yet: killed while it was written). */
export function parseSnapshotComment(comment: string | null): SnapshotMeta | null {
  if (!comment?.startsWith(SNAPSHOT_COMMENT_PREFIX)) return null;
  try {
    const meta = JSON.parse(comment.slice(SNAPSHOT_COMMENT_PREFIX.length)) as SnapshotMeta;
    return typeof meta.name === 'string' && typeof meta.of === 'string' && typeof meta.location === 'string' ? meta : null;
  } catch {
    return null;
  }
}

const newestFirst = (a: SnapshotMeta, b: SnapshotMeta) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0);

/**
 * The automatic snapshots beyond the newest `keep`; manual ones are never dropped by retention, and
 * neither is the newest of each kind (rollback, reset, replay, restore): five rollbacks in a row must
 * not evict the only copy taken before a reset.
 */
export function retentionVictims<T extends SnapshotMeta>(snapshots: readonly T[], keep: number): T[] {
  const automatic = snapshots.filter((s) => s.auto).sort(newestFirst);
  const newestOfKind = new Set(automatic.filter((s, i) => automatic.findIndex((o) => o.reason === s.reason) === i));
  return automatic.slice(keep).filter((s) => !newestOfKind.has(s));
}

/**
 * What `undo` restores: the newest automatic snapshot taken before a destructive operation. The one a
 * restore takes of the state it replaces is kept for `snapshot restore`, but undo does not pick it, so
 * two undos in a row do not flip back and forth.
 */
export function undoTarget<T extends SnapshotMeta>(snapshots: readonly T[]): T | null {
  return snapshots.filter((s) => s.auto && s.reason !== 'restore').sort(newestFirst)[0] ?? null;
}

export interface SnapshotFacts {
  /** Other sessions connected to the database (application name and pid). */
  readonly otherSessions: readonly string[];
  /** Whether the server lets this user CREATE DATABASE … TEMPLATE it (createdb, and owner or superuser). */
  readonly canTemplate: boolean;
  /** pg_dump and psql found on PATH, with their major version, and the server's major version. */
  readonly dumpTools: { readonly major: number } | null;
  readonly serverMajor: number;
  readonly embedded: boolean;
}

/** How a connected app is dealt with (§14): end its sessions for the copy, go on without a snapshot, or neither. */
export interface BusyPolicy {
  /** --disconnect, or "snapshots": { "disconnect": true }: end the other sessions just before the copy. */
  readonly disconnect: boolean;
  /** An automatic snapshot before a rollback: with others connected go on without one (the stash keeps the rows). */
  readonly goOnWithout: boolean;
  /** `dbguard snapshot save`: nothing is about to change, and --no-snapshot is not its option. */
  readonly manual?: boolean;
}

export type SnapshotChoice = { readonly strategy: SnapshotStrategy; readonly disconnect: boolean } | { readonly skip: readonly string[] };

/**
 * §12, §14: a copy database when nothing else uses the database (exact, and fast), or when the other
 * sessions may be ended for it; else, for an external database, pg_dump when a version that can read
 * the server is on PATH; else, before a rollback, no snapshot (the caller says so); else refuse.
 */
export function chooseSnapshotStrategy(facts: SnapshotFacts, database: string, policy: BusyPolicy = { disconnect: false, goOnWithout: false }): SnapshotChoice {
  const busy = facts.otherSessions.length > 0;
  if (facts.canTemplate && (!busy || policy.disconnect)) return { strategy: 'template', disconnect: busy };
  if (!facts.embedded && facts.dumpTools && facts.dumpTools.major >= facts.serverMajor) return { strategy: 'dump', disconnect: false };
  if (busy && facts.canTemplate && policy.goOnWithout) return { skip: facts.otherSessions };
  const why = busy ? `other sessions use "${database}" (${facts.otherSessions.join(', ')})` : `this user may not copy "${database}" (CREATE DATABASE … TEMPLATE needs CREATEDB and ownership)`;
  const dump = facts.embedded ? '' : facts.dumpTools
    ? `, and pg_dump ${facts.dumpTools.major} on PATH cannot read a PostgreSQL ${facts.serverMajor} server`
    : ', and pg_dump/psql are not on PATH';
  const manual = policy.manual ?? false;
  const disconnect = 'add --disconnect to end those sessions for the copy (a pool reconnects), or close them (stop your app, quit psql)';
  throw new DbguardError('SNAPSHOT_UNAVAILABLE', `cannot snapshot "${database}"${manual ? '' : ' before changing it'}: ${why}${dump}; nothing was changed`, {
    hint: busy
      ? `${disconnect}${manual ? '' : '; --no-snapshot goes on without one'}`
      : manual
        ? `${facts.embedded ? '' : 'put pg_dump and psql of a version that can read the server on PATH, or '}give this user CREATEDB and ownership of "${database}"`
        : 'run the command again with --no-snapshot to go on without a snapshot (or set "snapshots": false in dbguard.config.json, for the hook too, if this user can never copy it)',
    details: { database, otherSessions: facts.otherSessions },
  });
}
