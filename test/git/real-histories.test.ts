/**
 * Issue 11 shapes (DESIGN §10) as real git histories on a real database: a migration that arrives
 * below the applied top after a rebase, a branch that merged main (interleaved versions), and backfill
 * migrations with "-- no-op" down files. Each ends with the schema of a fresh migrate and the rows kept.
 */
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { afterEach, describe, expect, it } from 'vitest';
import { readFingerprint } from '../../src/db/fingerprint.js';
import { adminClient, query, schemaVersion, tableMigration } from '../helpers/db.js';
import { GitRepo, repoOnNewDatabase } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

const T = (n: number) => 20260101000000 + n * 10000; // Atlas-style timestamp versions
const base = { ...tableMigration(T(1), 'users'), ...tableMigration(T(2), 'orders') };

async function repoWithDb(files: Record<string, string>): Promise<{ repo: GitRepo; db: string }> {
  const { repo, db } = await repoOnNewDatabase(repos, files, 'main');
  expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
  expect(repo.dbguard(['migrate']).status).toBe(0);
  return { repo, db };
}

/** The whole schema as dbguard fingerprints it (§11): tables, columns, constraints, indexes, views, functions, triggers, types. */
async function fingerprint(db: string): Promise<Record<string, string>> {
  const client = await adminClient(db);
  try {
    return Object.fromEntries(await readFingerprint(client, golangMigrate));
  } finally {
    await client.end();
  }
}

async function freshSchema(files: Record<string, string>): Promise<unknown> {
  const { db } = await repoWithDb(files);
  return fingerprint(db);
}

describe('out-of-order pending migrations (§10)', () => {
  it('status, migrate --dry-run and migrate agree; --strict refuses; migrate applies it and keeps the top', async () => {
    const main = { ...base, ...tableMigration(T(4), 'invoices') };
    const { repo, db } = await repoWithDb(main);
    await query(db, "INSERT INTO users (note) VALUES ('ann')");
    const late = { ...main, ...tableMigration(T(3), 'coupons') }; // a rebased branch's older migration
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations(late, 'feature: coupons, written before invoices landed');

    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect(status.outOfOrder.map((m: { version: string }) => m.version)).toEqual([String(T(3))]);
    const check = repo.dbguard(['check']);
    expect(check.stdout).toContain(`(out of order: ${T(3)})`);
    expect(JSON.parse(repo.dbguard(['check', '--json']).stdout).pending).toEqual([{ version: String(T(3)), filename: `${T(3)}_create_coupons.up.sql`, outOfOrder: true }]);
    expect(status.next).toMatch(/^dbguard migrate/);
    const dry = JSON.parse(repo.dbguard(['migrate', '--dry-run', '--json']).stdout);
    expect(dry.pending).toEqual([{ version: String(T(3)), filename: `${T(3)}_create_coupons.up.sql`, outOfOrder: true }]);
    const strict = repo.dbguard(['migrate', '--strict']);
    expect(strict.status).toBe(3);
    expect(strict.stderr).toContain('error[OUT_OF_ORDER]');
    expect(await query(db, "SELECT to_regclass('coupons') AS t")).toEqual([{ t: null }]);

    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: String(T(4)), dirty: false });
    expect(await fingerprint(db)).toEqual(await freshSchema(late));
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout).outOfOrder).toEqual([]);

    // Back on main the late migration is a phantom below the top: rolled back out of order, invoices kept.
    repo.git('checkout', '-q', 'main');
    const plan = JSON.parse(repo.dbguard(['rollback', '--dry-run', '--json']).stdout).plan;
    expect(plan.steps).toMatchObject([{ version: String(T(3)), outOfOrder: true, after: String(T(4)) }]);
    expect(repo.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(await fingerprint(db)).toEqual(await freshSchema(main));
    expect(await query(db, 'SELECT note FROM users')).toEqual([{ note: 'ann' }]);
  });
});

describe('migrate --replay (§10)', () => {
  it('rolls back the applied migrations above the late one, then applies all in version order', async () => {
    const main = { ...base, ...tableMigration(T(4), 'invoices') };
    const { repo, db } = await repoWithDb(main);
    await query(db, "INSERT INTO users (note) VALUES ('ann')");
    await query(db, "INSERT INTO invoices (note) VALUES ('inv 1'), ('inv 2')");
    const late = { ...main, ...tableMigration(T(3), 'coupons') };
    repo.commitMigrations(late, 'a late, lower-numbered migration');
    const dry = JSON.parse(repo.dbguard(['migrate', '--replay', '--dry-run', '--json']).stdout);
    expect(dry.rewound).toEqual([String(T(4))]);
    expect(await schemaVersion(db)).toEqual({ version: String(T(4)), dirty: false });
    const replayed = repo.dbguard(['migrate', '--replay']);
    expect(replayed.status, replayed.stderr).toBe(0);
    expect(replayed.stdout).toContain(`rolled back ${T(4)} first (--replay), then applied in version order`);
    expect(replayed.stdout).toMatch(/snapshot replay-\d{8}-\d{6} taken first \(undo: dbguard undo\)/);
    // The rewound table's rows were kept and came back with it (§13).
    expect(replayed.stdout).toContain('stash: table public.invoices: 2 of 2 rows put back');
    expect(await query(db, 'SELECT note FROM invoices ORDER BY id')).toEqual([{ note: 'inv 1' }, { note: 'inv 2' }]);
    expect(await schemaVersion(db)).toEqual({ version: String(T(4)), dirty: false });
    expect(await fingerprint(db)).toEqual(await freshSchema(late));
    expect(await query(db, 'SELECT version::text AS v FROM _dbguard.applied_migrations ORDER BY version')).toEqual([T(1), T(2), T(3), T(4)].map((v) => ({ v: String(v) })));
    expect(await query(db, 'SELECT note FROM users')).toEqual([{ note: 'ann' }]);
  });
});

describe('a branch that merged main (interleaved versions) and backfills with no-op downs (§10)', () => {
  it('switching back to main rolls back only the branch\'s own migrations, out of order, keeping data changes of backfills', async () => {
    const { repo, db } = await repoWithDb(base);
    await query(db, "INSERT INTO users (note) VALUES ('ann'), (NULL)");
    repo.git('checkout', '-q', '-b', 'feature');
    const feature = {
      ...base,
      ...tableMigration(T(3), 'carts'),
      [`${T(5)}_backfill_notes.up.sql`]: "CREATE TEMP TABLE missing AS SELECT id FROM users WHERE note IS NULL;\nUPDATE users SET note = 'unknown' WHERE id IN (SELECT id FROM missing);\nDROP TABLE missing;",
      [`${T(5)}_backfill_notes.down.sql`]: '-- no-op: data-only backfill\n',
    };
    repo.commitMigrations(feature, 'feature: carts and a backfill');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    // main moves on with invoices (T4), and the feature branch merges main: T4 lands between T3 and T5.
    repo.git('checkout', '-q', 'main');
    const mainNow = { ...base, ...tableMigration(T(4), 'invoices') };
    repo.commitMigrations(mainNow, 'main: invoices');
    repo.git('checkout', '-q', 'feature');
    expect(repo.git('merge', '-q', '--no-edit', 'main').status).toBe(0);
    expect(repo.dbguard(['migrate']).status).toBe(0); // invoices, out of order below the backfill
    await query(db, "INSERT INTO invoices (note) VALUES ('inv-1')");

    repo.git('checkout', '-q', 'main');
    const plan = JSON.parse(repo.dbguard(['rollback', '--dry-run', '--json']).stdout).plan;
    expect(plan.steps.map((s: { version: string; kind: string; outOfOrder: boolean }) => [s.version, s.kind, s.outOfOrder]))
      .toEqual([[String(T(5)), 'noop', false], [String(T(3)), 'down', true]]);
    expect(plan.steps[0].note).toBe('data changes kept');
    expect(repo.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: String(T(4)), dirty: false });
    expect(await fingerprint(db)).toEqual(await freshSchema(mainNow));
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout).schema).toMatchObject({ state: 'as-recorded' });
    expect(await query(db, 'SELECT note FROM users ORDER BY id')).toEqual([{ note: 'ann' }, { note: 'unknown' }]);
    expect(await query(db, 'SELECT note FROM invoices')).toEqual([{ note: 'inv-1' }]);
    // And back: the branch's migrations apply again (no reset anywhere).
    repo.git('checkout', '-q', 'feature');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await fingerprint(db)).toEqual(await freshSchema({ ...feature, ...mainNow }));
  });
});

describe('dbguard lint --base (§10)', () => {
  it('exit 1 naming a migration below main\'s top and an edited one; exit 0 for a clean branch; --json', async () => {
    const repo = GitRepo.create();
    repos.push(repo);
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: 'postgres://u:p@127.0.0.1:1/none' } }));
    repo.commitMigrations(base, 'main');
    repo.git('checkout', '-q', '-b', 'clean-feature');
    repo.commitMigrations({ ...base, ...tableMigration(T(9), 'later') }, 'adds above');
    repo.git('checkout', '-q', 'main');
    repo.commitMigrations({ ...base, ...tableMigration(T(5), 'invoices') }, 'main moves on');
    repo.git('checkout', '-q', '-b', 'old-feature', 'clean-feature~1');
    repo.commitMigrations({ ...base, ...tableMigration(T(3), 'coupons'), [`${T(1)}_create_users.up.sql`]: 'CREATE TABLE users (id int);' }, 'old branch');

    const lint = repo.dbguard(['lint', '--base', 'main']);
    expect(lint.status).toBe(1);
    expect(lint.stdout).toContain(`below-base-top  migrations/${T(3)}_create_coupons.up.sql`);
    expect(lint.stdout).toContain(`edited  migrations/${T(1)}_create_users.up.sql`);
    const doc = JSON.parse(repo.dbguard(['lint', '--base', 'main', '--json']).stdout);
    expect(doc.findings.map((f: { kind: string; version: string }) => [f.kind, f.version])).toEqual([['edited', String(T(1))], ['below-base-top', String(T(3))]]);
    repo.git('checkout', '-q', 'clean-feature');
    expect(repo.dbguard(['lint', '--base', 'main']).status).toBe(0);
    expect(repo.dbguard(['lint']).status).toBe(2);
  });
});

describe('rewind-and-replay when an out-of-order down fails on a dependency (§3)', () => {
  it('a view main added over users blocks dropping the branch\'s column: the view is rolled back, then the column, then the view again', async () => {
    const { repo, db } = await repoWithDb(base);
    await query(db, "INSERT INTO users (note) VALUES ('ann')");
    repo.git('checkout', '-q', '-b', 'feature');
    const column = { [`${T(3)}_nickname.up.sql`]: 'ALTER TABLE users ADD COLUMN nickname text;', [`${T(3)}_nickname.down.sql`]: 'ALTER TABLE users DROP COLUMN nickname;' };
    repo.commitMigrations({ ...base, ...column }, 'feature: nickname');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', 'main');
    const view = { [`${T(4)}_user_view.up.sql`]: 'CREATE VIEW user_view AS SELECT * FROM users;', [`${T(4)}_user_view.down.sql`]: 'DROP VIEW user_view;' };
    const mainNow = { ...base, ...view };
    repo.commitMigrations(mainNow, 'main: a view over users');
    repo.git('checkout', '-q', 'feature');
    expect(repo.git('merge', '-q', '--no-edit', 'main').status).toBe(0);
    expect(repo.dbguard(['migrate']).status).toBe(0); // the view now includes nickname

    repo.git('checkout', '-q', 'main');
    const plan = JSON.parse(repo.dbguard(['rollback', '--dry-run', '--json']).stdout).plan;
    expect(plan.steps).toHaveLength(1);
    expect(plan.steps[0].fallback.map((f: { kind: string; version: string }) => [f.kind, f.version]))
      .toEqual([['replay-down', String(T(4))], ['down', String(T(3))], ['replay-up', String(T(4))]]);
    const rollback = repo.dbguard(['rollback', '--yes']);
    expect(rollback.status, rollback.stderr).toBe(0);
    expect(rollback.stdout).toContain(`↺ ${T(3)}`);
    expect(await schemaVersion(db)).toEqual({ version: String(T(4)), dirty: false });
    expect(await fingerprint(db)).toEqual(await freshSchema(mainNow));
    expect(await query(db, 'SELECT note FROM user_view')).toEqual([{ note: 'ann' }]);
    expect(repo.dbguard(['check']).status).toBe(0);
    // The view's tracking row is back, so a later switch can roll it back too.
    expect(await query(db, 'SELECT down_sql FROM _dbguard.applied_migrations WHERE version = $1', [String(T(4))])).toEqual([{ down_sql: 'DROP VIEW user_view;' }]);
  });
});

describe('own BEGIN/COMMIT, DO blocks and an irreversible cleanup through a branch switch (§10)', () => {
  it('refuses IRREVERSIBLE naming the cleanup, rolls back with --keep-irreversible leaving only its backup table, and comes back', async () => {
    const { repo, db } = await repoWithDb(base);
    await query(db, "INSERT INTO orders (note) VALUES ('o1'), ('o2')");
    repo.git('checkout', '-q', '-b', 'feature');
    const feature = {
      ...base,
      [`${T(3)}_own_tx.up.sql`]: 'BEGIN;\nCREATE TABLE ledger (id serial PRIMARY KEY, amount int);\nDO $$ BEGIN INSERT INTO ledger (amount) SELECT 1 FROM orders; END $$;\nCOMMIT;',
      [`${T(3)}_own_tx.down.sql`]: 'BEGIN;\nDROP TABLE ledger;\nCOMMIT;',
      [`${T(4)}_cleanup.up.sql`]: 'CREATE TABLE orders_backup AS SELECT * FROM orders;\nDELETE FROM orders WHERE note = \'o2\';',
      [`${T(4)}_cleanup.down.sql`]: '-- irreversible: the rows are in orders_backup\n',
    };
    repo.commitMigrations(feature, 'feature: own transaction, DO block, irreversible cleanup');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await query(db, 'SELECT count(*)::int AS n FROM ledger')).toEqual([{ n: 2 }]);

    repo.git('checkout', '-q', 'main');
    const refused = repo.dbguard(['rollback', '--yes']);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain('error[IRREVERSIBLE]');
    expect(refused.stderr).toContain(String(T(4)));
    expect(refused.stderr).toContain('next: dbguard rollback --keep-irreversible');
    expect(await schemaVersion(db)).toEqual({ version: String(T(4)), dirty: false });

    const kept = repo.dbguard(['rollback', '--yes', '--keep-irreversible']);
    expect(kept.status, kept.stderr).toBe(0);
    // The schema record (§11) for T2, taken when the feature's migrate started there, shows what stayed,
    // and the per-migration record (event triggers) which down left it.
    expect(kept.stderr).toContain(`warning: schema differs from the record for ${T(2)}: table public.orders_backup left by the down of ${T(4)}`);
    expect(kept.stderr).not.toContain('(by the downs of');
    const status = JSON.parse(repo.dbguard(['status', '--json']).stdout);
    expect(status.schema).toMatchObject({ state: 'drift', diff: { added: expect.arrayContaining(['table public.orders_backup']), removed: [] } });
    expect(await schemaVersion(db)).toEqual({ version: String(T(2)), dirty: false });
    expect(await query(db, "SELECT to_regclass('ledger') AS l, to_regclass('orders_backup')::text AS b")).toEqual([{ l: null, b: 'orders_backup' }]);
    expect(await query(db, 'SELECT note FROM orders ORDER BY id')).toEqual([{ note: 'o1' }]); // its data change is kept

    repo.git('checkout', '-q', 'feature');
    await query(db, 'DROP TABLE orders_backup'); // the person deals with what the cleanup left, then re-applies
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout).schema.state).toBe('as-recorded');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: String(T(4)), dirty: false });
  });
});
