/** Schema fingerprints compared (DESIGN §11): object key → definition, and what differs between two. */

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

/** "table public.audit_backup left, column public.users.plan lost" — the objects a down got wrong. */
export function describeDiff(diff: SchemaDiff, limit = 5): string {
  const parts = [
    ...diff.added.map((key) => `${key} left`), ...diff.removed.map((key) => `${key} lost`), ...diff.changed.map((key) => `${key} changed`),
  ];
  return parts.length <= limit ? parts.join(', ') : `${parts.slice(0, limit).join(', ')} and ${parts.length - limit} more`;
}
