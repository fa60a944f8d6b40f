/**
 * The rollback that keeps the rows (DESIGN §13), as data: which tables and columns a down dropped
 * (by comparing the catalog before and after it ran, by object id, never by reading its SQL), which
 * of them may hold rows, and what a stash restore can put back into the table the up made again.
 */

/** A user table as the catalog shows it: columns by attnum, whether its heap has any page at all. */
export interface CatalogTable {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  readonly columns: ReadonlyMap<number, string>;
  /** The primary key's column names (empty: none). */
  readonly primaryKey: readonly string[];
  /** False only when the table has no page (it never held a row); true means "count them". */
  readonly mayHaveRows: boolean;
  /** Generated columns: computed again from the others, never stashed. */
  readonly generated?: readonly string[];
}

export type CatalogTables = ReadonlyMap<number, CatalogTable>;

export interface DroppedColumn {
  readonly table: CatalogTable;
  readonly column: string;
}

export interface Dropped {
  readonly tables: readonly CatalogTable[];
  readonly columns: readonly DroppedColumn[];
}

/**
 * What disappeared between two catalog reads, restricted to what may hold rows. A table is matched by
 * its oid (a rename is not a drop); a column by its attnum within a table that is still there.
 */
export function findDropped(before: CatalogTables, after: CatalogTables): Dropped {
  const tables: CatalogTable[] = [];
  const columns: DroppedColumn[] = [];
  for (const [oid, table] of before) {
    if (!table.mayHaveRows) continue;
    const now = after.get(oid);
    if (now === undefined) {
      tables.push(table);
      continue;
    }
    for (const [attnum, name] of table.columns) if (!now.columns.has(attnum)) columns.push({ table, column: name });
  }
  return { tables, columns };
}

export const isNothingDropped = (dropped: Dropped) => dropped.tables.length === 0 && dropped.columns.length === 0;

export const qualifiedName = (schema: string, table: string, column?: string | null) => `${schema}.${table}${column ? `.${column}` : ''}`;

/**
 * The columns whose values, as text, check that a stashed column value goes back to the row it came
 * from (§13): the table's other columns, except the key (matched anyway), the ones dropped with it
 * and generated ones. A key reused by another row (TRUNCATE … RESTART IDENTITY) then does not match.
 */
export function rowCheckColumns(table: CatalogTable, droppedHere: readonly string[]): string[] {
  const skip = new Set([...table.primaryKey, ...droppedHere, ...(table.generated ?? [])]);
  return [...table.columns.values()].filter((name) => !skip.has(name));
}

/**
 * Why a dropped column's values can never go back by themselves (§13, issue 25.7): a restore matches
 * each to its row by the primary key, and a table without one (or the key column itself) has none.
 * null: they can.
 */
export function unmatchedBecause(table: CatalogTable, column: string): string | null {
  if (table.primaryKey.length === 0) return `${qualifiedName(table.schema, table.table)} has no primary key to match rows by`;
  return table.primaryKey.includes(column) ? `${column} is the primary key rows are matched by` : null;
}

/** What a step's down would drop from one table or column; `notBack`: why no restore could put it back. */
export interface WouldDrop {
  readonly object: string;
  readonly rows: number;
  readonly notBack?: string;
}

/** Whether an entry comes back when its migration is applied again: a column's values need a key to find their rows. */
export const comesBackByItself = (entry: StashEntry) => entry.kind === 'table' || entry.keyColumns.length > 0;

/** The way to what a restore cannot put back: see it, and copy it out to put it back by hand (issue 25.7). */
export const byHand = (id: number) => `dbguard stash show ${id} shows them; dbguard stash export ${id} copies them into a table of their own`;

/**
 * `--table schema.name` (or `name`, in `public`) as PostgreSQL reads unquoted identifiers: folded to
 * lower case. null: not a name of that form.
 */
export function parseTableName(text: string): { schema: string; table: string } | null {
  const parts = text.split('.');
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(p))) return null;
  const [schema, table] = parts.length === 2 ? parts : ['public', parts[0]];
  return { schema: (schema as string).toLowerCase(), table: (table as string).toLowerCase() };
}

/** A stash row: what a rollback kept, under which migration (version and up sha256). */
export interface StashEntry {
  readonly id: number;
  readonly version: bigint;
  readonly upSha256: string | null;
  readonly kind: 'table' | 'column';
  readonly schema: string;
  readonly table: string;
  readonly column: string | null;
  readonly keyColumns: readonly string[];
  /** For a column: the other columns whose values were fingerprinted with it (rowCheckColumns). */
  readonly rowCheck?: readonly string[] | null;
  readonly rows: number;
  readonly bytes: number;
  readonly createdAt: string;
  /** Set when a restore could not put everything back: what is left, and why. */
  readonly note: string | null;
}

/** What one restore did, in words for the person and numbers for --json. */
export interface StashRestore {
  readonly id: number;
  readonly object: string;
  readonly restored: number;
  /** Rows (or values) it could not put back; they stay in the stash. */
  readonly left: number;
  readonly message: string;
}

export interface LiveColumn {
  readonly name: string;
  /** With its modifiers (varchar(4)): what a value must fit. */
  readonly type: string;
  /** Without them (character varying): what a stashed text is cast to, so the column's own assignment checks the length, never truncates. */
  readonly baseType?: string;
  readonly generated: boolean;
  readonly notNull: boolean;
}

/**
 * The columns a table restore inserts: those the stash and the re-created table share by name,
 * except generated ones; stashed columns the table no longer has are reported.
 */
export function restorableColumns(stashed: readonly string[], live: readonly LiveColumn[]): { use: LiveColumn[]; missing: string[] } {
  const byName = new Map(live.map((c) => [c.name, c]));
  const use: LiveColumn[] = [];
  const missing: string[] = [];
  for (const name of stashed) {
    const column = byName.get(name);
    if (column === undefined) missing.push(name);
    else if (!column.generated) use.push(column);
  }
  return { use, missing };
}
