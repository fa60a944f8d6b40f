import { describe, expect, it } from 'vitest';
import { describeDiff, diffSchemas, isSameSchema } from '../../src/core/schema.js';

const fp = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('schema fingerprints (§11)', () => {
  const before = fp({ 'table public.users': 'r', 'column public.users.id': 'integer not null', 'column public.users.plan': "text default 'free'" });

  it('is the same schema when every object and definition matches', () => {
    expect(isSameSchema(diffSchemas(before, fp(Object.fromEntries(before))))).toBe(true);
  });

  it('names what was left, lost and changed; a table that came whole is named once, before loose parts', () => {
    const after = fp({
      'table public.users': 'r', 'column public.users.id': 'integer not null', 'column public.users.plan': "text default 'paid'",
      'table public.audit_backup': 'r', 'column public.audit_backup.id': 'bigint', 'index public.users_email': 'CREATE INDEX …',
    });
    const diff = diffSchemas(before, after);
    expect(diff).toEqual({
      added: ['table public.audit_backup', 'column public.audit_backup.id', 'index public.users_email'], removed: [], changed: ['column public.users.plan'],
    });
    expect(describeDiff(diff)).toBe('table public.audit_backup left, index public.users_email left, column public.users.plan changed');
    expect(describeDiff(diffSchemas(after, before), 1)).toBe('table public.audit_backup lost and 2 more');
  });
});
