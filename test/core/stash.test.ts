import { describe, expect, it } from 'vitest';
import { findDropped, isNothingDropped, parseTableName, restorableColumns, unmatchedBecause, type CatalogTable } from '../../src/core/stash.js';

const table = (oid: number, name: string, columns: string[], mayHaveRows = true, primaryKey = ['id']): CatalogTable => ({
  oid, schema: 'public', table: name, columns: new Map(columns.map((c, i) => [i + 1, c])), primaryKey, mayHaveRows,
});

describe('what a down dropped (§13), by object id', () => {
  it('a dropped table, a dropped column; a renamed table or column is no drop; a table that never held a row is not counted', () => {
    const before = new Map([
      [1, table(1, 'users', ['id', 'name', 'nickname'])], [2, table(2, 'orders', ['id', 'total'])], [3, table(3, 'empty', ['id'], false)], [4, table(4, 'old_name', ['id'])],
    ]);
    const after = new Map([
      [1, table(1, 'users', ['id', 'name'])], [4, table(4, 'new_name', ['id'])],
    ]);
    const dropped = findDropped(before, after);
    expect(dropped.tables.map((t) => t.table)).toEqual(['orders']);
    expect(dropped.columns.map((c) => `${c.table.table}.${c.column}`)).toEqual(['users.nickname']);
    expect(isNothingDropped(findDropped(before, before))).toBe(true);
    // A column renamed keeps its attnum: not a drop.
    const renamed = new Map([[1, { ...table(1, 'users', ['id', 'name', 'nick']) }]]);
    expect(findDropped(new Map([[1, before.get(1) as CatalogTable]]), renamed).columns).toEqual([]);
  });

  it('a restore inserts the columns both sides have, skips generated ones, and reports the ones that are gone', () => {
    const live = [
      { name: 'id', type: 'integer', generated: false, notNull: true }, { name: 'total', type: 'bigint', generated: false, notNull: true },
      { name: 'doubled', type: 'bigint', generated: true, notNull: false },
    ];
    expect(restorableColumns(['id', 'total', 'doubled', 'note'], live)).toEqual({ use: [live[0], live[1]], missing: ['note'] });
  });
});

describe('values only a person can put back (issue 25.7)', () => {
  it('a column is matched back by the primary key: none, or the key itself, and it cannot be', () => {
    expect(unmatchedBecause(table(1, 'log', ['line', 'level'], true, []), 'level')).toBe('public.log has no primary key to match rows by');
    expect(unmatchedBecause(table(1, 'users', ['id', 'name']), 'id')).toBe('id is the primary key rows are matched by');
    expect(unmatchedBecause(table(1, 'users', ['id', 'name']), 'name')).toBeNull();
  });

  it('--table: name or schema.name, folded to lower case as PostgreSQL reads them; anything else is no name', () => {
    expect(parseTableName('Kept')).toEqual({ schema: 'public', table: 'kept' });
    expect(parseTableName('app.Old_Emails$1')).toEqual({ schema: 'app', table: 'old_emails$1' });
    for (const bad of ['a.b.c', '', '.x', 'x.', '1abc', 'a b', '"x"', 'x;drop table y', 'a'.repeat(64)]) expect(parseTableName(bad)).toBeNull();
  });
});
