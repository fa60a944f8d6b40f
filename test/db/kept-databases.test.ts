import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { quoteIdentifier } from '../../src/db/client.js';
import { listKeptDatabases, writeKeptComment } from '../../src/db/kept-databases.js';
import { adminClient, createDatabase, urlFor } from '../helpers/db.js';

describe('kept databases on the server', () => {
  let maintenance: pg.Client;
  let plain: string;
  let kept: string;
  beforeAll(async () => {
    plain = await createDatabase();
    kept = await createDatabase();
    maintenance = await adminClient();
  });
  afterAll(async () => {
    await maintenance?.end();
  });

  it('lists only databases whose comment says dbguard keeps them, with their meta, size and sessions', async () => {
    const meta = { kind: 'worktree' as const, worktree: "/tmp/it's a tree", branch: 'feat/ü', source: 'postgres', createdAt: new Date().toISOString() };
    await writeKeptComment(maintenance, kept, meta);
    await maintenance.query(`COMMENT ON DATABASE ${quoteIdentifier(plain)} IS 'a user''s own database'`);
    const user = new pg.Client({ connectionString: urlFor(kept) });
    await user.connect();
    try {
      const listed = await listKeptDatabases(maintenance);
      expect(listed.map((d) => d.name)).toContain(kept);
      expect(listed.map((d) => d.name)).not.toContain(plain);
      const mine = listed.find((d) => d.name === kept);
      expect(mine?.meta).toEqual(meta);
      expect(mine?.bytes).toBeGreaterThan(1_000_000);
      expect(mine?.sessions).toBe(1);
    } finally {
      await user.end();
    }
  });
});
