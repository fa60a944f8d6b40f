/**
 * Rollback planning (DESIGN §3): plain data in, a plan value out. The executor applies exactly what
 * the plan says; `--dry-run` and `--json` print it.
 */
import { compareVersions, maxVersion, type Catalog } from './catalog.js';
import { isBlankSql, isDataOnlySql, mentionsSchema, requiresNoTransaction } from './sql.js';
import { listVersions } from './text.js';
import type { MigrationFormat } from './format.js';
import type { DownSql, DownSqlOrigin, OnDiskMigration, PlanInput } from './plan-input.js';

export type { SchemaVersion } from './format.js';
export type { DownSql, DownSqlOrigin, OnDiskMigration, PlanInput, TrackedMigration } from './plan-input.js';
import { dirtyAdvice, GENTLER, irreversibleRefusal, noDownSqlRefusal } from './refusals.js';

export { dirtyAdvice } from './refusals.js';
import { appliedSet } from './applied.js';

export { appliedSet, holdsApplied, rowsNamingOtherFiles } from './applied.js';






/** §3's fallback for an out-of-order down: rewind the on-disk ones above, roll it back, replay them. */
function replayFallback(format: MigrationFormat, version: bigint, filename: string, downSql: string, remaining: ReadonlySet<bigint>, onDisk: ReadonlyMap<bigint, OnDiskMigration> | undefined): ReplayStep[] | undefined {
  const above = [...remaining].filter((v) => v > version).sort((a, b) => compareVersions(b, a));
  const sources = above.map((v) => onDisk?.get(v));
  // Only through migrations whose down and up both exist and run in a transaction: each replay step is one.
  const replayable = (m: OnDiskMigration | undefined) => m !== undefined && m.downSql !== null && !isBlankSql(m.downSql)
    && !requiresNoTransaction(m.downSql, format) && !requiresNoTransaction(m.upSql, format);
  if (above.length === 0 || !sources.every(replayable)) return undefined;
  const left = new Set(remaining);
  left.add(version);
  const steps: ReplayStep[] = [];
  for (const [i, v] of above.entries()) {
    const m = sources[i] as OnDiskMigration;
    left.delete(v);
    steps.push({ kind: 'replay-down', version: v, filename: m.filename, sql: m.downSql as string, after: maxVersion(left) });
  }
  left.delete(version);
  steps.push({ kind: 'down', version, filename, sql: downSql, after: maxVersion(left) });
  for (const v of [...above].reverse()) {
    const m = onDisk?.get(v) as OnDiskMigration;
    left.add(v);
    steps.push({ kind: 'replay-up', version: v, filename: m.filename, sql: m.upSql, after: maxVersion(left), downSql: m.downSql, upSha256: m.upSha256 });
  }
  return steps;
}

/** `down`: run the down SQL. `noop`: nothing to run (a data-only migration, or one kept by choice). */
export type StepKind = 'down' | 'noop';

export interface RollbackStep {
  readonly version: bigint;
  readonly filename: string;
  readonly kind: StepKind;
  /** Empty for a no-op step. */
  readonly downSql: string;
  readonly origin: DownSqlOrigin;
  readonly ref?: string;
  /**
   * sha256 of the up file found with the down SQL (a git tree has both): what the stash is keyed by
   * when the tracking table has no row for a migration the app applied itself (§13, §14).
   */
  readonly upSha256?: string;
  /** What schema_migrations holds after this step; null means no row (nothing applied). */
  readonly after: bigint | null;
  /** False when the SQL cannot run in our transaction: the dirty-marker path is used. */
  readonly transactional: boolean;
  /** Applied migrations on disk above it stay applied: it is rolled back out of order (§3). */
  readonly outOfOrder: boolean;
  /** What a person should know about this step ("data changes kept", "down SQL changed since applied"). */
  readonly note?: string;
  /**
   * For an out-of-order down: what runs instead if it fails (a migration above it depends on it, §3):
   * the on-disk migrations above it rolled back, this one rolled back, those re-applied in order.
   */
  readonly fallback?: readonly ReplayStep[];
}

/** One transaction of a rewind-and-replay: a down of an on-disk migration, the phantom's down, or an up again. */
export interface ReplayStep {
  readonly kind: 'replay-down' | 'down' | 'replay-up';
  readonly version: bigint;
  readonly filename: string;
  readonly sql: string;
  /** schema_migrations after this step. */
  readonly after: bigint | null;
  /** For replay-up: what its tracking row holds again. */
  readonly downSql?: string | null;
  readonly upSha256?: string;
  /**
   * For replay-up of an edited migration (`migrate --reapply`): the up sha256 its rows were stashed
   * under by the down that ran before it (the old text's), so they come back with the new one.
   */
  readonly keptUnder?: string;
}


/** The way out of applied migrations edited since (§2); check and status propose exactly this command. */
export const reapplyCommand = (edited: readonly bigint[]): string => `dbguard migrate --reapply ${edited.reduce((a, b) => (b < a ? b : a))}`;

/** dbguard's schema in the database (DESIGN §1); down SQL must not touch it. */
export const TRACKING_SCHEMA = '_dbguard';

export type RefuseReason = 'DIRTY' | 'UNTRACKED' | 'NO_DOWN_SQL' | 'UNSAFE_DOWN_SQL' | 'IRREVERSIBLE';

export type Plan =
  | { readonly kind: 'clean'; readonly current: bigint | null }
  | { readonly kind: 'rollback'; readonly from: bigint; readonly to: bigint | null; readonly steps: readonly RollbackStep[] }
  | { readonly kind: 'refuse'; readonly reason: RefuseReason; readonly message: string; readonly versions: readonly bigint[]; readonly fix: string };

export interface Candidate {
  readonly version: bigint;
  /** Known when the version was tracked, cached or found in git; unknown for an untracked top version. */
  readonly filename: string | undefined;
}


function isOnDisk(catalog: Catalog, version: bigint, filename: string | undefined): boolean {
  const up = catalog.byVersion.get(version)?.up;
  return up !== undefined && (filename === undefined || up === filename);
}

/** Applied versions whose files are not on disk: the ones whose down SQL the providers must look for. */
export function rollbackCandidates(input: Omit<PlanInput, 'downSql'>): Candidate[] {
  if (input.current === null) return [];
  const known = appliedSet(input, input.current.version);
  return [...known]
    .filter(([version, filename]) => !isOnDisk(input.catalog, version, filename))
    .map(([version, filename]) => ({ version, filename }))
    .sort((a, b) => compareVersions(b.version, a.version));
}

function refuse(reason: RefuseReason, message: string, versions: bigint[], fix: string): Plan {
  return { kind: 'refuse', reason, message, versions, fix };
}

const list = (versions: readonly bigint[]): string => listVersions(versions);


export function planRollback(input: PlanInput): Plan {
  const { current, catalog, downSql } = input;
  if (current === null) return { kind: 'clean', current: null };
  if (current.dirty) {
    const dirty = dirtyAdvice(current.version);
    return refuse('DIRTY', `database is dirty at version ${current.version}: ${dirty.what}`, [current.version], `${dirty.fix}, ${GENTLER}`);
  }

  const known = appliedSet(input, current.version);
  const top = current.version;
  // Applied versions nothing names (golang-migrate: only the top can be one): their files from git, or refused.
  const unnamed = [...known].filter(([v, name]) => name === undefined && !isOnDisk(catalog, v, undefined)).map(([v]) => v);
  const unknown = unnamed.filter((v) => !downSql.has(v)).sort(compareVersions);
  // A tool that writes no down SQL (Drizzle Kit, Prisma Migrate) has none to find, named or not: NO_DOWN_SQL below.
  if (unknown.length > 0 && catalog.format.noDownSql === undefined) {
    const { format } = catalog;
    const where = current.applied ? `${format.trackingTable} lists ${list(unknown)}, which ${unknown.length === 1 ? 'is' : 'are'}` : `${format.trackingTable} is at version ${top}, which is`;
    return refuse('UNTRACKED', `${where} not on disk, was never captured, and is not in git history, so its down SQL is unknown`, unknown,
      // Not "dbguard status" first: status prints this same refusal, so the advice went round in a circle.
      `dbguard capture   (after restoring ${list(unknown)}'s migration files from where they were written), ${GENTLER}`);
  }
  for (const v of unnamed) known.set(v, downSql.get(v)?.filename);

  const applied = [...known.keys()].sort((a, b) => compareVersions(b, a));
  const phantoms = applied.filter((version) => !isOnDisk(catalog, version, known.get(version)));
  if (phantoms.length === 0) return { kind: 'clean', current: top };

  const lacking = phantoms.filter((version) => !downSql.has(version));
  if (lacking.length > 0) {
    // Why each has none, as captured (§18: a file its tool cannot read now, a migration dbguard cannot run).
    const whyOf = new Map(input.tracked.map((t) => [t.version, t.noDown?.kind === 'missing' ? t.noDown.why : null]));
    return { kind: 'refuse', ...noDownSqlRefusal(lacking.map((version) => ({ version, why: whyOf.get(version) ?? null, filename: known.get(version) })), catalog.format, input.branchDatabasesOn) };
  }
  const sqlOf = (version: bigint) => (downSql.get(version) as DownSql).sql;
  const meddling = phantoms.filter((version) => mentionsSchema(sqlOf(version), TRACKING_SCHEMA));
  if (meddling.length > 0) {
    return refuse('UNSAFE_DOWN_SQL', `the down SQL of ${list(meddling)} changes ${TRACKING_SCHEMA}, dbguard's own records`, meddling,
      `dbguard status   (fix those down files so they leave ${TRACKING_SCHEMA} alone), ${GENTLER}`);
  }
  // An empty down file: harmless when the migration only changed data; otherwise its schema would stay.
  const blank = phantoms.filter((version) => isBlankSql(sqlOf(version)));
  const dataOnly = new Set(blank.filter((version) => {
    const up = input.upSql?.get(version);
    return up !== undefined && isDataOnlySql(up);
  }));
  const irreversible = blank.filter((version) => !dataOnly.has(version));
  if (irreversible.length > 0 && !input.keepIrreversible) {
    return { kind: 'refuse', ...irreversibleRefusal(irreversible.map((version) => ({ version, why: catalog.format.blankDown(sqlOf(version)) })), input.branchDatabasesOn) };
  }

  const onDiskApplied = applied.filter((version) => !phantoms.includes(version));
  const remaining = new Set(applied);
  const steps = phantoms.map((version): RollbackStep => {
    const found = downSql.get(version) as DownSql;
    remaining.delete(version);
    const after = maxVersion(remaining);
    const noop = isBlankSql(found.sql);
    const outOfOrder = onDiskApplied.some((v) => v > version);
    const fallback = !noop && outOfOrder && !requiresNoTransaction(found.sql, catalog.format)
      ? replayFallback(catalog.format, version, known.get(version) ?? found.filename, found.sql, remaining, input.onDisk) : undefined;
    const note = noop ? (dataOnly.has(version) ? 'data changes kept' : 'schema left behind (--keep-irreversible)')
      : found.changedSinceApplied ? 'down SQL changed since applied' : undefined;
    return {
      version,
      filename: known.get(version) ?? found.filename,
      kind: noop ? 'noop' : 'down',
      downSql: noop ? '' : found.sql,
      origin: found.origin,
      ...(found.ref === undefined ? {} : { ref: found.ref }),
      ...(found.upSha256 === undefined ? {} : { upSha256: found.upSha256 }),
      after,
      transactional: noop || !requiresNoTransaction(found.sql, catalog.format),
      outOfOrder,
      ...(note === undefined ? {} : { note }),
      ...(fallback === undefined ? {} : { fallback }),
    };
  });
  return { kind: 'rollback', from: top, to: steps[steps.length - 1]?.after ?? null, steps };
}

/** The highest applied version whose file is still on disk (DESIGN §1), for reports. */
export function commonAncestor(plan: Plan): bigint | null {
  if (plan.kind === 'rollback') return plan.to;
  if (plan.kind === 'clean') return plan.current;
  return null;
}

export interface PendingMigrations {
  /** Up files above the database's version: what golang-migrate would apply. */
  readonly ahead: readonly bigint[];
  /** Up files below it that were never applied (§10 out-of-order): golang-migrate skips them. */
  readonly outOfOrder: readonly bigint[];
  /**
   * Applied by the project's own migrator without `dbguard capture` (§3's untracked intermediates, or
   * a tool's set beyond our tracking rows): on disk and applied, so not pending; `dbguard capture`
   * records their down SQL.
   */
  readonly uncaptured: readonly bigint[];
}

/**
 * What `migrate` would apply, and what is applied but not captured: `status`, `check` and `migrate` all
 * count it this way (§10), from the same applied set the rollback plan reads (§3).
 */
export function pendingMigrations(input: Omit<PlanInput, 'downSql'>): PendingMigrations {
  const top = input.current?.version ?? null;
  const applied = top === null ? new Map<bigint, string | undefined>() : appliedSet(input, top);
  const tracked = new Set(input.tracked.map((row) => row.version));
  const ahead: bigint[] = [];
  const outOfOrder: bigint[] = [];
  const uncaptured: bigint[] = [];
  for (const migration of input.catalog.migrations) {
    if (migration.up === undefined) continue;
    // A renamed file is another migration to sql-migrate: pending beside the old name's phantom.
    const name = applied.get(migration.version);
    if (applied.has(migration.version) && (!input.catalog.format.renameIsNewMigration || name === undefined || name === migration.up)) {
      if (!tracked.has(migration.version)) uncaptured.push(migration.version);
      continue;
    }
    (top !== null && migration.version < top ? outOfOrder : ahead).push(migration.version);
  }
  return { ahead, outOfOrder, uncaptured };
}
