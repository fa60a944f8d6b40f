/**
 * Issue 25.7: stashed column values no restore can put back — a table without a primary key, rows
 * changed since — are said to be so before the rollback, and can be seen (stash show) and copied out
 * into a table of their own (stash export) to be put back by hand. Real Postgres, the CLI as users run it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, Project, query, type Migrations } from '../helpers/db.js';
import { migrate } from '../helpers/engine.js';
import { BIN, run } from '../helpers/git.js';

const projects: Project[] = [];
afterAll(() => projects.forEach((p) => p.cleanup()));

async function project(files: Migrations) {
  const db = await createDatabase('byhand');
  const p = new Project(db, { snapshots: false });
  projects.push(p);
  p.setMigrations(files);
  await migrate(p.settings());
  const dbguard = (...args: string[]) => run(process.execPath, [BIN, ...args], p.root);
  return { db, project: p, dbguard };
}

describe('values of a table without a primary key (issue 25.7)', () => {
  const plain: Migrations = { '1_log.up.sql': 'CREATE TABLE log (line text, at int);', '1_log.down.sql': 'DROP TABLE log;' };
  const more: Migrations = { ...plain, '2_level.up.sql': 'ALTER TABLE log ADD COLUMN level int;', '2_level.down.sql': 'ALTER TABLE log DROP COLUMN level;' };

  it('the plan says they will not come back by themselves; show and export give them, with their rows, to put back by hand', async () => {
    const { db, project: p, dbguard } = await project(more);
    await query(db, "INSERT INTO log VALUES ('a', 1, 10), ('b', 2, NULL), ('c', 3, 30)");
    p.setMigrations(plain);
    const dry = dbguard('rollback', '--dry-run');
    expect(dry.stdout).toContain('drops 2 values of public.log.level (kept in the stash, but they will not come back by themselves: public.log has no primary key to match rows by); after the rollback, dbguard stash show <id> shows them and dbguard stash export <id> copies them into a table of their own');
    expect(dry.stdout).not.toContain('back on the next migrate');
    const planned = JSON.parse(dbguard('rollback', '--dry-run', '--json').stdout) as { plan: { steps: Array<{ wouldDrop: unknown }> } };
    expect(planned.plan.steps[0]?.wouldDrop).toEqual([{ object: 'column public.log.level', rows: 2, notBack: 'public.log has no primary key to match rows by' }]);
    const rolled = dbguard('rollback', '--yes');
    expect(rolled.stdout).toContain('kept 3 values of public.log.level in stash 1, but they will not come back by themselves (no primary key to match their rows by): dbguard stash show 1 shows them; dbguard stash export 1 copies them into a table of their own');
    expect(rolled.stdout).not.toContain('back when these migrations are applied again');
    const status = JSON.parse(dbguard('status', '--json').stdout) as { stash: Array<{ willNotComeBack: string | null }> };
    expect(status.stash[0]?.willNotComeBack).toContain('no restore can put these values back: dbguard stash show 1');

    const shown = dbguard('stash', 'show', '1');
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain('stash 1: column public.log.level, kept when 2 was rolled back');
    expect(shown.stdout).toContain([' line | at | level', '------+----+-------', ' a    | 1  | 10', ' b    | 2  |', ' c    | 3  | 30', '(3 rows)'].join('\n'));
    expect(JSON.parse(dbguard('stash', 'show', '1', '--json').stdout)).toMatchObject({ columns: ['line', 'at', 'level'], rows: [{ line: 'a', at: '1', level: '10' }, { line: 'b', at: '2', level: null }, { line: 'c', at: '3', level: '30' }], total: 3 });

    // migrate brings the column back empty; the values come back only by hand, from the exported table.
    p.setMigrations(more);
    await migrate(p.settings());
    expect(await query(db, 'SELECT count(level)::int AS n FROM log')).toEqual([{ n: 0 }]);
    const exported = dbguard('stash', 'export', '1');
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stdout).toContain('copied 3 rows of stash 1 (column public.log.level) into public.dbguard_stash_1, every value as text; the stash still holds them');
    await query(db, 'UPDATE log SET level = e.level::int FROM dbguard_stash_1 e WHERE log.line = e.line AND log.at = e.at::int');
    expect(await query(db, 'SELECT line, level FROM log ORDER BY line')).toEqual([{ line: 'a', level: 10 }, { line: 'b', level: null }, { line: 'c', level: 30 }]);
    expect(await query(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 1 }]);
  });
});

describe('values of rows changed since (issue 25.7)', () => {
  const base: Migrations = { '1_users.up.sql': 'CREATE TABLE users (id int PRIMARY KEY, name text);', '1_users.down.sql': 'DROP TABLE users;' };
  const branch: Migrations = { ...base, '2_email.up.sql': 'ALTER TABLE users ADD COLUMN email text;', '2_email.down.sql': 'ALTER TABLE users DROP COLUMN email;' };

  it('the restore points at show and export; export copies into a table named by --table, and bad input changes nothing', async () => {
    const { db, project: p, dbguard } = await project(branch);
    await query(db, "INSERT INTO users VALUES (1, 'ann', 'ann@x'), (2, 'bob', 'bob@x')");
    p.setMigrations(base);
    expect(dbguard('rollback', '--yes').status).toBe(0);
    await query(db, "UPDATE users SET name = 'Ann' WHERE id = 1");
    p.setMigrations(branch);
    const migrated = await migrate(p.settings());
    expect(migrated.restored?.[0]?.message).toContain("1 stay in stash 1: their rows' other values changed since (another row under the same key?), so only you can tell where they go: dbguard stash show 1 shows them; dbguard stash export 1 copies them into a table of their own");
    expect(dbguard('stash', 'show', '1').stdout).toContain([' id | email', '----+-------', ' 1  | ann@x'].join('\n'));

    const refused = [
      dbguard('stash', 'export', '1', '--table', 'public.users'),
      dbguard('stash', 'export', '1', '--table', 'nowhere.kept'),
      dbguard('stash', 'export', '1', '--table', '_dbguard.kept'),
      dbguard('stash', 'export', '1', '--table', 'a.b.c'),
      dbguard('stash', 'export', '7'),
      dbguard('stash', 'export', 'all'),
      dbguard('stash', 'show', '1', '--table', 'x'),
    ];
    expect(refused.map((r) => [r.status, /error\[(\w+)\]/.exec(r.stderr)?.[1]])).toEqual([
      [2, 'STASH_EXPORT_TARGET'], [2, 'STASH_EXPORT_TARGET'], [2, 'STASH_EXPORT_TARGET'], [2, 'USAGE'], [2, 'STASH_NOT_FOUND'], [2, 'USAGE'], [2, 'USAGE'],
    ]);
    expect(refused[0]?.stderr).toContain('public.users already exists; nothing was exported');
    expect(await query(db, "SELECT count(*)::int AS n FROM pg_class WHERE relname = 'kept'")).toEqual([{ n: 0 }]);
    expect(await query(db, 'SELECT id, name FROM users ORDER BY id')).toEqual([{ id: 1, name: 'Ann' }, { id: 2, name: 'bob' }]);

    const exported = dbguard('stash', 'export', '1', '--table', 'Public.Old_Emails');
    expect(exported.stdout).toContain('copied 1 row of stash 1 (column public.users.email) into public.old_emails');
    expect(await query(db, 'SELECT id, email FROM old_emails')).toEqual([{ id: '1', email: 'ann@x' }]);
    expect(dbguard('stash', 'export', '1', '--table', 'public.old_emails').status).toBe(2);
  });
});

describe('export into the name of a table a rollback dropped (adversarial pass)', () => {
  const base: Migrations = { '1_users.up.sql': 'CREATE TABLE users (id int PRIMARY KEY, name text);', '1_users.down.sql': 'DROP TABLE users;' };
  const branch: Migrations = { ...base, '2_notes.up.sql': 'CREATE TABLE notes (id int PRIMARY KEY, body text);', '2_notes.down.sql': 'DROP TABLE notes;' };

  it('is refused, changing nothing, so the next migrate makes the table again and puts every row back', async () => {
    const { db, project: p, dbguard } = await project(branch);
    await query(db, "INSERT INTO notes VALUES (1, 'one'), (2, 'two')");
    p.setMigrations(base);
    expect(dbguard('rollback', '--yes').status).toBe(0);
    const refused = dbguard('stash', 'export', '1', '--table', 'public.notes');
    expect([refused.status, /error\[(\w+)\]/.exec(refused.stderr)?.[1]]).toEqual([2, 'STASH_EXPORT_TARGET']);
    expect(refused.stderr).toContain('public.notes is the table stash 1 was kept from: applying 2 again (dbguard migrate) makes it and puts its rows back, so an export never takes its name; nothing was exported');
    expect(refused.stderr).toContain('next: dbguard stash export 1 (into public.dbguard_stash_1), or --table <schema>.<another name>');
    expect(await query(db, "SELECT count(*)::int AS n FROM pg_class WHERE relname = 'notes'")).toEqual([{ n: 0 }]);

    p.setMigrations(branch);
    const migrated = dbguard('migrate');
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(await query(db, 'SELECT id, body FROM notes ORDER BY id')).toEqual([{ id: 1, body: 'one' }, { id: 2, body: 'two' }]);
  });
});
