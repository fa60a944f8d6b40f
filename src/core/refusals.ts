/**
 * The words of the refusals a missing or blank down leads to (DESIGN §3, §18), shared by the plan and
 * by what the hook and check say without one: they propose only what will work, so they refuse as the
 * plan would, with its fix.
 */
import type { MigrationCache } from './cache.js';
import { isNotRunnable } from './catalog.js';
import { NO_DOWN_FILE, notRunnableWhy } from './no-down.js';
import type { MigrationFormat } from './format.js';
import { listVersions } from './text.js';

export interface Refusal {
  readonly reason: 'NO_DOWN_SQL' | 'IRREVERSIBLE' | 'DIRTY';
  readonly message: string;
  readonly versions: bigint[];
  readonly fix: string;
}

/** What a dirty database means and how it is repaired (§4), as rollback, status, check and the hook say it. */
export function dirtyAdvice(version: bigint): { readonly what: string; readonly fix: string } {
  return { what: 'a migration was only half applied', fix: `dbguard force ${version}   (after finishing or undoing by hand, e.g. in psql, what migration ${version} left half done)` };
}

/** A migration a rollback needs down SQL for, and why it has none (null: not known). */
export interface Lacking {
  readonly version: bigint;
  readonly why: string | null;
  /** Its up file, when known: one dbguard cannot run (a goose Go migration) says so even uncaptured. */
  readonly filename?: string | undefined;
}

/** Keeps the on-disk migrations and the data: the choices before a reset (§3, §12). */
export const GENTLER = 'or check out the branch that has them and keep working there; dbguard reset only as a last resort';

/** The way that needs no down SQL at all (§17): each branch keeps its own database, and a checkout switches to it. */
export const BRANCH_DATABASES_WAY = '"branchDatabases": true in dbguard.config.json gives each branch its own database, so a checkout switches instead of rolling back and needs no down SQL';

/** The closing advice to turn branch databases on, unless they are on already. */
const fromNowOn = (branchDatabasesOn: boolean): string => (branchDatabasesOn ? '' : `; from now on, ${BRANCH_DATABASES_WAY}`);

/** "3, 4 (no down file); 9 (down SQL unavailable: …)": versions grouped by why, in first-seen order. */
function named(lacking: readonly Lacking[], withWhy: (versions: readonly bigint[], why: string | null) => string): string {
  const groups = new Map<string | null, bigint[]>();
  for (const l of lacking) groups.set(l.why, [...(groups.get(l.why) ?? []), l.version]);
  return [...groups].map(([why, versions]) => withWhy(versions, why)).join('; ');
}

export function noDownSqlRefusal(given: readonly Lacking[], format: MigrationFormat, branchDatabasesOn = false): Refusal {
  const runs = format.notRunnable;
  const notRunnable = (l: Lacking) => runs !== undefined && l.filename !== undefined && isNotRunnable(format, l.filename);
  // A tool that writes no down SQL (Drizzle Kit, Prisma Migrate) never had one to find.
  const lacking = given.map((l) => (l.why === null && notRunnable(l) ? { ...l, why: notRunnableWhy(runs?.what ?? '') } : l.why === null && format.noDownSql !== undefined ? { ...l, why: format.noDownSql } : l));
  const list = named(lacking, (versions, why) => `${listVersions(versions)}${why === null ? '' : ` (${why})`}`);
  // A down file can be restored; a file its tool cannot read, or a migration dbguard cannot run, has none to restore.
  const restorable = lacking.some((l) => l.why === null || l.why === NO_DOWN_FILE);
  // The tool itself undoes one dbguard cannot run (§18), on a branch that has it.
  const byTool = runs !== undefined && lacking.some(notRunnable) ? `${runs.undoWith}, then dbguard capture; or ` : '';
  const reset = 'dbguard reset needs no down SQL (it empties the database, keeping a snapshot for dbguard undo)';
  // §17: a database for each branch needs no down SQL at all; said first where the tool writes none.
  const branchDatabases = format.noDownSql !== undefined && !branchDatabasesOn ? `set "branchDatabases": true in dbguard.config.json (each branch gets a database of its own, so switching needs no down SQL); or ` : '';
  return {
    reason: 'NO_DOWN_SQL',
    message: `no down SQL for ${list}: looked in the tracking table, the previous branch and git history`,
    versions: lacking.map((l) => l.version),
    fix: restorable
      ? `dbguard status   (restore the down files in git, then dbguard rollback), or ${byTool}check out the branch that has them and keep working there; ${reset}${fromNowOn(branchDatabasesOn)}`
      : `${branchDatabases}${byTool}check out the branch that has them and keep working there; ${reset}${branchDatabases === '' ? fromNowOn(branchDatabasesOn) : ''}`,
  };
}

export function irreversibleRefusal(blank: ReadonlyArray<{ readonly version: bigint; readonly why: string }>, branchDatabasesOn = false): Refusal {
  const list = named(blank, (versions, why) => `${listVersions(versions)} ${versions.length === 1 ? 'has' : 'have'} ${why}`);
  return {
    reason: 'IRREVERSIBLE',
    message: `${list} but changed the schema (or the up SQL is unknown): rolling back would record ${blank.length === 1 ? 'it' : 'them'} as gone and leave what ${blank.length === 1 ? 'it' : 'they'} made`,
    versions: blank.map((b) => b.version),
    fix: `dbguard rollback --keep-irreversible   (rolls back the rest and leaves their objects, shown as drift), or write their down SQL, ${GENTLER}${fromNowOn(branchDatabasesOn)}`,
  };
}

/**
 * What a rollback of these phantoms would refuse, as far as the cache knows (§18), or null when it
 * knows of nothing. Down SQL not captured is known missing once the hook looked for it everywhere
 * (it does, from the previous branch and git history, before it warns); a blank down that changed the
 * schema is IRREVERSIBLE. DIRTY, then NO_DOWN_SQL come first, as in the plan.
 */
export function knownRefusal(cache: MigrationCache, versions: readonly bigint[], format: MigrationFormat, branchDatabasesOn = false): Refusal | null {
  // A database last seen dirty is refused before anything else, as the plan refuses it (§4).
  if (cache.dirty !== undefined) {
    const advice = dirtyAdvice(cache.dirty);
    return { reason: 'DIRTY', message: `the database was dirty at version ${cache.dirty} when dbguard last asked it: ${advice.what}`, versions: [cache.dirty], fix: advice.fix };
  }
  const entries = versions.flatMap((version) => { const entry = cache.migrations.get(version); return entry ? [{ version, entry }] : []; });
  const missing = entries.filter(({ entry }) => !entry.downCaptured && (entry.noDown?.kind ?? 'missing') === 'missing');
  if (missing.length > 0) return noDownSqlRefusal(missing.map(({ version, entry }) => ({ version, why: entry.noDown?.why ?? null, filename: entry.filename })), format, branchDatabasesOn);
  const blank = entries.flatMap(({ version, entry }) => (entry.noDown?.kind === 'irreversible' ? [{ version, why: entry.noDown.why }] : []));
  return blank.length > 0 ? irreversibleRefusal(blank, branchDatabasesOn) : null;
}

/** What a warning says of a rollback it knows would refuse: why, and the refusal's own fix (never "dbguard rollback"). */
export const foreseenRefusal = (refusal: { readonly reason: string; readonly message: string; readonly fix: string }): [string, string] => [
  `rollback would refuse (${refusal.reason}): ${refusal.message}`, `next: ${refusal.fix}`,
];
