/** The URL `dbguard run` hands the app and `db url` prints: lib/pq (Go apps, dbmate, sql-migrate) must be able to use it. */
import { describe, expect, it } from 'vitest';
import { formatConnectionUrl, parseDatabaseUrl } from '../../src/core/connection.js';

describe('formatConnectionUrl', () => {
  it('spells out sslmode=disable for a server without SSL (the embedded one), where lib/pq would otherwise ask for SSL', () => {
    const target = { host: '127.0.0.1', port: 5433, user: 'postgres', password: 'p w', database: 'app', ssl: false };
    expect(formatConnectionUrl(target, true)).toBe('postgresql://postgres:p%20w@127.0.0.1:5433/app?sslmode=disable');
    expect(formatConnectionUrl(target)).toBe('postgresql://postgres:***@127.0.0.1:5433/app?sslmode=disable');
    expect(formatConnectionUrl({ ...target, ssl: undefined }, true)).toBe('postgresql://postgres:p%20w@127.0.0.1:5433/app');
    expect(parseDatabaseUrl(formatConnectionUrl(target, true))).toMatchObject({ ssl: false, password: 'p w', database: 'app' });
  });
});
