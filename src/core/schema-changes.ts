/**
 * The per-migration schema record (DESIGN §11) as data: what each step's SQL added, changed and
 * removed, as the event triggers saw it, and what a down left that its up had made (or made itself).
 */

export interface ObjectChange {
  /** "ran" marks a recorded step, so a step that changed nothing (a no-op down) is told from one not recorded. */
  readonly action: 'added' | 'changed' | 'removed' | 'ran';
  /** The event trigger's object type: "table", "index", "view", "function", … */
  readonly type: string;
  /** Its identity: "public.orders", "public.f(integer)". */
  readonly object: string;
}

export interface MigrationChanges {
  readonly up: ObjectChange[];
  readonly down: ObjectChange[];
}

/** Objects that stand on their own; columns and constraints are parts of a table ("changed" there). */
const STANDALONE = new Set(['table', 'view', 'materialized view', 'function', 'procedure', 'type', 'domain', 'sequence', 'index', 'schema', 'trigger', 'foreign table', 'extension']);

const keysOf = (changes: readonly ObjectChange[], action: ObjectChange['action']) =>
  new Set(changes.filter((c) => c.action === action && STANDALONE.has(c.type)).map((c) => `${c.type} ${c.object}`));

const minus = (a: ReadonlySet<string>, ...others: ReadonlyArray<ReadonlySet<string>>) => [...a].filter((key) => !others.some((o) => o.has(key)));

/**
 * What the down of a migration left behind: objects its up made that the down did not drop, and
 * objects the down made that its up had not dropped. An object both sides "create" (CREATE OR
 * REPLACE) is a change, not a leftover. Null when either side was not recorded (applied or rolled
 * back without the event triggers): then nothing can be said from this record.
 */
export function leftByDown(changes: MigrationChanges | undefined): string[] | null {
  if (!changes || changes.up.length === 0 || changes.down.length === 0) return null;
  const upAdded = keysOf(changes.up, 'added');
  const upRemoved = keysOf(changes.up, 'removed');
  const downAdded = keysOf(changes.down, 'added');
  const downRemoved = keysOf(changes.down, 'removed');
  return [...minus(upAdded, downRemoved, downAdded), ...minus(downAdded, upRemoved, upAdded)].sort();
}

/** "table public.orders_backup left by the down of 20240301120000" for each version's leftovers. */
export function describeLeftovers(leftovers: ReadonlyMap<bigint, readonly string[]>): string[] {
  return [...leftovers].flatMap(([version, objects]) => objects.map((object) => `${object} left by the down of ${version}`));
}
