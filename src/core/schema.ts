/** Schema fingerprints compared (DESIGN §11): object key → definition, and what differs between two. */
export { TRACKING_SCHEMA } from './plan.js';

export type SchemaFingerprint = ReadonlyMap<string, string>;

export interface SchemaDiff {
  /** In `after` only: what a down left behind, or an up made. */
  readonly added: readonly string[];
  /** In `before` only: what a down dropped that was there before the up. */
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

export function diffSchemas(before: SchemaFingerprint, after: SchemaFingerprint): SchemaDiff {
  const added = [...after.keys()].filter((key) => !before.has(key));
  const removed = [...before.keys()].filter((key) => !after.has(key));
  const changed = [...before].filter(([key, def]) => after.has(key) && after.get(key) !== def).map(([key]) => key);
  return { added, removed, changed };
}

export const isSameSchema = (diff: SchemaDiff): boolean => diff.added.length + diff.removed.length + diff.changed.length === 0;

/** The table a column, constraint or trigger key belongs to ("column public.users.plan" → "public.users"). */
function ownerOf(key: string): string | null {
  const match = /^(?:column|constraint|trigger) ([^.]+\.[^.]+)\./.exec(key);
  return match ? (match[1] as string) : null;
}

/** The fingerprint without these objects and, for a table among them, its columns, constraints and triggers. */
export function withoutObjects(fingerprint: SchemaFingerprint, keys: readonly string[]): SchemaFingerprint {
  const gone = new Set(keys);
  const tables = new Set(keys.filter((k) => k.startsWith('table ')).map((k) => k.slice('table '.length)));
  return new Map([...fingerprint].filter(([key]) => !gone.has(key) && !tables.has(ownerOf(key) ?? '')));
}

/** Tables first, and the parts of a table that came or went whole are not listed again. */
function summarize(keys: readonly string[]): string[] {
  const tables = new Set(keys.filter((k) => k.startsWith('table ')).map((k) => k.slice('table '.length)));
  const rank = (key: string) => (/^(schema|table|view|materialized view) /.test(key) ? 0 : 1);
  return keys.filter((key) => !tables.has(ownerOf(key) ?? '')).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * "table public.audit_backup left, column public.users.plan lost" — the objects a down got wrong;
 * `leftBy` names the migration whose down left an object, when the per-migration record knows it.
 */
export function describeDiff(diff: SchemaDiff, limit = 5, leftBy: ReadonlyMap<string, bigint> = new Map()): string {
  const left = (key: string) => (leftBy.has(key) ? `${key} left by the down of ${leftBy.get(key)}` : `${key} left`);
  const parts = [
    ...summarize(diff.added).map(left), ...summarize(diff.removed).map((key) => `${key} lost`), ...diff.changed.map((key) => `${key} changed`),
  ];
  return parts.length <= limit ? parts.join(', ') : `${parts.slice(0, limit).join(', ')} and ${parts.length - limit} more`;
}
