/**
 * Rollback planning (DESIGN §3): plain data in, a plan value out. The executor applies exactly what
 * the plan says; `--dry-run` and `--json` print it.
 */
import type { MigrationCache } from './cache.js';
import { compareVersions, type Catalog } from './catalog.js';
import { isBlankSql, mentionsSchema, requiresNoTransaction } from './sql.js';
import { listVersions } from './text.js';

export interface SchemaVersion {
  readonly version: bigint;
  readonly dirty: boolean;
}

export interface TrackedMigration {
  readonly version: bigint;
  readonly filename: string;
  readonly hasDownSql: boolean;
}

/** Where a down SQL text was found, in the order they are asked (DESIGN §3). */
export type DownSqlOrigin = 'tracking-table' | 'previous-tree' | 'git-history' | 'working-tree';

export interface DownSql {
  readonly version: bigint;
  /** The up file of the migration this down SQL reverses. */
  readonly filename: string;
  readonly sql: string;
  readonly origin: DownSqlOrigin;
  /** The commit it came from, for git origins. */
  readonly ref?: string;
}

export interface PlanInput {
  readonly catalog: Catalog;
  readonly current: SchemaVersion | null;
  readonly tracked: readonly TrackedMigration[];
  readonly cache: MigrationCache | null;
  /** Down SQL found for the candidates (see rollbackCandidates). */
  readonly downSql: ReadonlyMap<bigint, DownSql>;
}

export interface RollbackStep {
  readonly version: bigint;
  readonly filename: string;
  readonly downSql: string;
  readonly origin: DownSqlOrigin;
  readonly ref?: string;
  /** What schema_migrations holds after this step; null means no row (nothing applied). */
  readonly after: bigint | null;
  /** False when the SQL cannot run in our transaction: the dirty-marker path is used. */
  readonly transactional: boolean;
}

/** dbguard's schema in the database (DESIGN §1); down SQL must not touch it. */
export const TRACKING_SCHEMA = '_dbguard';

export type RefuseReason = 'DIRTY' | 'UNTRACKED' | 'NOT_CONTIGUOUS' | 'NO_DOWN_SQL' | 'UNSAFE_DOWN_SQL';

export type Plan =
  | { readonly kind: 'clean'; readonly current: bigint | null }
  | { readonly kind: 'rollback'; readonly from: bigint; readonly to: bigint | null; readonly steps: readonly RollbackStep[] }
  | { readonly kind: 'refuse'; readonly reason: RefuseReason; readonly message: string; readonly versions: readonly bigint[]; readonly fix: string };

export interface Candidate {
  readonly version: bigint;
  /** Known when the version was tracked or cached; unknown for an untracked schema_migrations version. */
  readonly filename: string | undefined;
}

type Known = Map<bigint, string | undefined>;

/** Applied versions we know of, at or below the database's current version, with their up file. */
function knownApplied(input: Omit<PlanInput, 'downSql'>, current: bigint): Known {
  const known: Known = new Map();
  for (const [version, entry] of input.cache?.migrations ?? []) {
    if (version <= current) known.set(version, entry.filename);
  }
  // The tracking table was written by the database itself, so its names win over the cache's.
  for (const row of input.tracked) {
    if (row.version <= current) known.set(row.version, row.filename);
  }
  if (!known.has(current)) known.set(current, undefined);
  return known;
}

function isOnDisk(catalog: Catalog, version: bigint, filename: string | undefined): boolean {
  const up = catalog.byVersion.get(version)?.up;
  return up !== undefined && (filename === undefined || up === filename);
}

/** Applied versions whose files are not on disk: the ones whose down SQL the providers must look for. */
export function rollbackCandidates(input: Omit<PlanInput, 'downSql'>): Candidate[] {
  if (input.current === null) return [];
  const known = knownApplied(input, input.current.version);
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
    return refuse('DIRTY', `database is dirty at version ${current.version}: a migration was only half applied`, [current.version], 'dbguard reset');
  }

  const known = knownApplied(input, current.version);
  const top = current.version;
  if (known.get(top) === undefined && !isOnDisk(catalog, top, undefined)) {
    const recovered = downSql.get(top);
    if (!recovered) {
      return refuse('UNTRACKED', `schema_migrations is at version ${top}, which is not on disk and was never captured, so its down SQL is unknown`, [top], 'dbguard reset');
    }
    known.set(top, recovered.filename);
  }

  const applied = [...known.keys()].sort((a, b) => compareVersions(b, a));
  const missing = applied.map((version) => !isOnDisk(catalog, version, known.get(version)));
  const phantomCount = missing.indexOf(false) === -1 ? applied.length : missing.indexOf(false);
  const phantoms = applied.slice(0, phantomCount);
  const stranded = applied.filter((_, index) => index >= phantomCount && missing[index]);

  if (stranded.length > 0) {
    const highestStranded = stranded[0] as bigint;
    const kept = applied.filter((version, index) => version > highestStranded && !missing[index]);
    return refuse(
      'NOT_CONTIGUOUS',
      `applied versions ${list(stranded)} are missing from disk but newer applied versions ${list(kept)} are still there (version numbers reused across branches?)`,
      stranded,
      'dbguard reset',
    );
  }
  if (phantoms.length === 0) return { kind: 'clean', current: top };

  const lacking = phantoms.filter((version) => !downSql.has(version));
  if (lacking.length > 0) {
    return refuse(
      'NO_DOWN_SQL',
      `no down SQL found for ${list(lacking)} (looked in the tracking table, the previous branch and git history)`,
      lacking,
      'dbguard reset',
    );
  }
  // `migrate create` writes empty down files; running one would drop the version but keep its schema.
  const empty = phantoms.filter((version) => isBlankSql((downSql.get(version) as DownSql).sql));
  if (empty.length > 0) {
    return refuse('NO_DOWN_SQL', `the down SQL of ${list(empty)} is empty: rolling back would record the version as gone and keep its schema`, empty, 'dbguard reset');
  }
  const meddling = phantoms.filter((version) => mentionsSchema((downSql.get(version) as DownSql).sql, TRACKING_SCHEMA));
  if (meddling.length > 0) {
    return refuse('UNSAFE_DOWN_SQL', `the down SQL of ${list(meddling)} changes ${TRACKING_SCHEMA}, dbguard's own records`, meddling, 'dbguard reset');
  }

  const steps = phantoms.map((version, index): RollbackStep => {
    const found = downSql.get(version) as DownSql;
    return {
      version,
      filename: known.get(version) ?? found.filename,
      downSql: found.sql,
      origin: found.origin,
      ...(found.ref === undefined ? {} : { ref: found.ref }),
      after: applied[index + 1] ?? null,
      transactional: !requiresNoTransaction(found.sql),
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
