/**
 * Why an applied migration has no down SQL to run (DESIGN §3, §18), recorded with it when it is
 * captured, so what a rollback through it would do is known without planning one: the hook, check and
 * status propose only what will work, and counts of "down SQL" count real down SQL.
 */
import { isBlankSql, isDataOnlySql } from './sql.js';

/**
 * `missing`: no down SQL at all (no down file, a file that cannot be read as its tool reads it, a
 * migration dbguard cannot run): a rollback through it refuses NO_DOWN_SQL. `irreversible`: a blank
 * down whose up changed the schema (or is unknown): it refuses IRREVERSIBLE. `noop`: a blank down of a
 * data-only migration: a no-op step.
 */
export type NoDownKind = 'missing' | 'irreversible' | 'noop';

export interface NoDown {
  readonly kind: NoDownKind;
  /** What a person reads after the version: "no Down section", "down SQL unavailable: line 12: …". */
  readonly why: string;
}

/** Why a two-file migration has none: its down file was not there (one may be committed later). */
export const NO_DOWN_FILE = 'no down file';

/** Why a migration dbguard cannot run (a goose Go migration, §18) has no down SQL: `what` is the format's word for it. */
export const notRunnableWhy = (what: string): string => `${what}, which dbguard cannot run`;

export const NO_DOWN_KINDS: readonly NoDownKind[] = ['missing', 'irreversible', 'noop'];

/**
 * What a rollback of a migration finds: null when its down is SQL to run. `down` null: none, for
 * `whyMissing`; blank: `blankWhy` (the format's words for it), a no-op when `up` changed data alone.
 */
export function noDownOf(down: string | null, up: string | null, whyMissing: string, blankWhy: (down: string) => string): NoDown | null {
  if (down === null) return { kind: 'missing', why: whyMissing };
  if (!isBlankSql(down)) return null;
  return { kind: up !== null && isDataOnlySql(up) ? 'noop' : 'irreversible', why: blankWhy(down) };
}

/** Whether a rollback through it would refuse (a no-op step does not). */
export const refusesRollback = (noDown: NoDown | null | undefined): boolean => noDown !== null && noDown !== undefined && noDown.kind !== 'noop';
