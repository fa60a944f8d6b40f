/**
 * Issue 18: the stash never puts a value on the wrong row, loses one, or strands it. Each case is an
 * A → B → A round trip on real Postgres (the suite's server) that used to corrupt or lose data.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, Project, query, schemaVersion, usersMigration, type Migrations } from '../helpers/db.js';
import { capture, migrate, rollback } from '../helpers/engine.js';
import { BIN, run } from '../helpers/git.js';

const projects: Project[] = [];
afterAll(() => projects.forEach((p) => p.cleanup()));

/** Applies `branch`, runs `seed`, rolls back to `base` (what the checkout does): the rows are in the stash. */
async function stashed(branch: Migrations, base: Migrations, seed: string) {
  const db = await createDatabase('stash');
  const project = new Project(db, { snapshots: false });
  projects.push(project);
  project.setMigrations(branch);
  await migrate(project.settings());
  if (seed) await query(db, seed);
  project.setMigrations(base);
  return { db, project, rolled: await rollback(project.settings()) };
}

/** stashed(), then runs `meanwhile` and migrates `branch` again. */
async function roundTrip(branch: Migrations, base: Migrations, seed: string, meanwhile = '') {
  const { db, project, rolled } = await stashed(branch, base, seed);
  if (meanwhile) await query(db, meanwhile);
  project.setMigrations(branch);
  const migrated = await migrate(project.settings());
  return { db, project, rolled, migrated };
}

const rows = (db: string, sql: string) => query(db, sql);

describe('values whose type the down drops (items 1, 2)', () => {
  it('an enum dropped with its table: the rollback runs (the stash holds text), and every value comes back', async () => {
    const branch = {
      ...usersMigration,
      '2_orders.up.sql': "CREATE TYPE status AS ENUM ('new', 'paid'); CREATE TABLE orders (id serial PRIMARY KEY, st status NOT NULL);",
      '2_orders.down.sql': 'DROP TABLE orders; DROP TYPE status;',
    };
    const { db, rolled } = await roundTrip(branch, usersMigration, "INSERT INTO orders (st) VALUES ('paid'), ('new')");
    expect(rolled.outcome?.kept.map((k) => `${k.table}: ${k.rows}`)).toEqual(['orders: 2']);
    expect(await rows(db, 'SELECT id, st::text FROM orders ORDER BY id')).toEqual([{ id: 1, st: 'paid' }, { id: 2, st: 'new' }]);
  });

  it('a domain, and a dropped column whose type the down drops too', async () => {
    const branch = {
      ...usersMigration,
      '2_mood.up.sql': "CREATE DOMAIN mood AS text CHECK (VALUE IN ('ok', 'meh')); ALTER TABLE users ADD COLUMN m mood;",
      '2_mood.down.sql': 'ALTER TABLE users DROP COLUMN m; DROP DOMAIN mood;',
    };
    const { db } = await roundTrip(branch, usersMigration, "INSERT INTO users (name, m) VALUES ('a', 'ok'), ('b', 'meh')");
    expect(await rows(db, 'SELECT name, m::text FROM users ORDER BY id')).toEqual([{ name: 'a', m: 'ok' }, { name: 'b', m: 'meh' }]);
  });

  it('DROP SCHEMA … CASCADE cannot take the stashed values with it', async () => {
    const branch = {
      ...usersMigration,
      '2_billing.up.sql': "CREATE SCHEMA billing; CREATE TYPE billing.st AS ENUM ('open', 'paid'); CREATE TABLE billing.invoices (id serial PRIMARY KEY, st billing.st DEFAULT 'open', note text);",
      '2_billing.down.sql': 'DROP SCHEMA billing CASCADE;',
    };
    const { db } = await roundTrip(branch, usersMigration, "INSERT INTO billing.invoices (st, note) VALUES ('paid', 'x'), ('paid', NULL), (NULL, 'z')");
    expect(await rows(db, 'SELECT id, st::text, note FROM billing.invoices ORDER BY id')).toEqual([
      { id: 1, st: 'paid', note: 'x' }, { id: 2, st: 'paid', note: null }, { id: 3, st: null, note: 'z' },
    ]);
  });
});

describe('values go back to their own rows (items 3, 5)', () => {
  const ssn = {
    ...usersMigration,
    '2_ssn.up.sql': 'ALTER TABLE users ADD COLUMN ssn text;',
    '2_ssn.down.sql': 'ALTER TABLE users DROP COLUMN ssn;',
  };

  it('ids reused after TRUNCATE … RESTART IDENTITY: carol and dave get no one else\'s SSN; the values stay stashed, reported', async () => {
    const { db, migrated } = await roundTrip(ssn, usersMigration,
      "INSERT INTO users (name, ssn) VALUES ('alice', 'SSN-A'), ('bob', 'SSN-B')",
      "TRUNCATE users RESTART IDENTITY; INSERT INTO users (name) VALUES ('carol'), ('dave')");
    expect(await rows(db, 'SELECT name, ssn FROM users ORDER BY id')).toEqual([{ name: 'carol', ssn: null }, { name: 'dave', ssn: null }]);
    expect(migrated.restored?.[0]?.message).toContain("2 stay in stash");
    expect(await rows(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 1 }]);
  });

  it('NULLs stay NULL (not the re-added column\'s default), and a restore fires none of the table\'s triggers', async () => {
    const plan = {
      ...usersMigration,
      '2_plan.up.sql': "ALTER TABLE users ADD COLUMN plan text DEFAULT 'free', ADD COLUMN updated_at timestamptz DEFAULT '2020-01-03';"
        + ' CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;'
        + ' CREATE TRIGGER users_stamp BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION stamp();',
      '2_plan.down.sql': 'DROP TRIGGER users_stamp ON users; DROP FUNCTION stamp(); ALTER TABLE users DROP COLUMN plan, DROP COLUMN updated_at;',
    };
    const { db } = await roundTrip(plan, usersMigration, "INSERT INTO users (name, plan) VALUES ('paying', 'pro'), ('unknown', NULL)");
    expect(await rows(db, "SELECT name, plan, updated_at = '2020-01-03' AS kept FROM users ORDER BY id")).toEqual([
      { name: 'paying', plan: 'pro', kept: true }, { name: 'unknown', plan: null, kept: true },
    ]);
    expect(await rows(db, "SELECT tgenabled FROM pg_trigger WHERE tgname = 'users_stamp'")).toEqual([{ tgenabled: 'O' }]);
  });
});

describe('sequences and seeded rows (items 4, 6)', () => {
  it('a restore never moves a sequence back, and moves a partitioned table\'s sequence past the ids that came back', async () => {
    const notes = {
      ...usersMigration,
      '2_notes.up.sql': 'CREATE TABLE notes (id serial PRIMARY KEY, body text);',
      '2_notes.down.sql': 'DROP TABLE notes;',
      '3_events.up.sql': 'CREATE TABLE events (id bigserial, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM (\'2026-01-01\') TO (\'2027-01-01\');',
      '3_events.down.sql': 'DROP TABLE events;',
    };
    const { db } = await roundTrip(notes, usersMigration, "INSERT INTO notes (body) SELECT 'n' || g FROM generate_series(1, 3) g; INSERT INTO events (at) SELECT '2026-06-01' FROM generate_series(1, 1000)");
    const next = await rows(db, "INSERT INTO events (at) VALUES ('2026-07-01') RETURNING id");
    expect(Number((next[0] as { id: string }).id)).toBeGreaterThan(1000);
    // The up of a later apply seeds ids itself: the sequence is ahead of what came back and stays there.
    const db2 = await createDatabase('stash');
    const project = new Project(db2, { snapshots: false });
    projects.push(project);
    const seeding = { ...usersMigration, '2_notes.up.sql': "CREATE TABLE notes (id serial PRIMARY KEY, body text); SELECT setval('notes_id_seq', 5);", '2_notes.down.sql': 'DROP TABLE notes;' };
    project.setMigrations(seeding);
    await migrate(project.settings());
    await query(db2, "INSERT INTO notes (id, body) VALUES (2, 'two'), (3, 'three')");
    project.setMigrations(usersMigration);
    await rollback(project.settings());
    project.setMigrations(seeding);
    await migrate(project.settings());
    expect(await rows(db2, "SELECT last_value::int AS v FROM notes_id_seq")).toEqual([{ v: 5 }]);
  });

  it('a row the up seeds and the user changed: the user\'s value wins, and nothing is left stranded', async () => {
    const settings = {
      ...usersMigration,
      '2_settings.up.sql': "CREATE TABLE settings (key text PRIMARY KEY, value text); INSERT INTO settings VALUES ('theme', 'light'), ('lang', 'en');",
      '2_settings.down.sql': 'DROP TABLE settings;',
    };
    const { db } = await roundTrip(settings, usersMigration, "UPDATE settings SET value = 'dark' WHERE key = 'theme'; INSERT INTO settings VALUES ('tz', 'UTC')");
    expect(await rows(db, 'SELECT key, value FROM settings ORDER BY key')).toEqual([{ key: 'lang', value: 'en' }, { key: 'theme', value: 'dark' }, { key: 'tz', value: 'UTC' }]);
    expect(await rows(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 0 }]);
  });
});

describe('a deferred foreign key (item 9)', () => {
  it('a child whose parent was deleted meanwhile stays stashed; migrate itself succeeds', async () => {
    const branch = {
      ...usersMigration,
      '2_child.up.sql': 'CREATE TABLE child (id serial PRIMARY KEY, user_id int REFERENCES users DEFERRABLE INITIALLY DEFERRED);',
      '2_child.down.sql': 'DROP TABLE child;',
    };
    const { db, migrated } = await roundTrip(branch, usersMigration,
      "INSERT INTO users (name) VALUES ('parent'), ('other'); INSERT INTO child (user_id) VALUES (1), (2)",
      'DELETE FROM users WHERE id = 1');
    expect(await schemaVersion(db)).toEqual({ version: '2', dirty: false });
    // Row by row (10c): the child of 'other' goes back; the orphan stays, and the reason is the true one.
    expect(migrated.restored?.[0]?.message).toContain('1 of 2 rows put back; 1 stay in stash');
    expect(migrated.restored?.[0]?.message).toContain('they reference rows of public.users that are not there (foreign key child_user_id_fkey)');
    expect(await rows(db, 'SELECT user_id FROM child')).toEqual([{ user_id: 2 }]);
    expect(await rows(db, 'SELECT row_count::int AS n FROM _dbguard.stash')).toEqual([{ n: 1 }]);
  });
});

describe('nothing the stash cannot put back is reported as coming back (item 10b)', () => {
  it('an up file edited after the rollback: status says the entry will not come back by itself, before and after the migrate', async () => {
    const branch = {
      ...usersMigration,
      '2_orders.up.sql': 'CREATE TABLE orders (id serial PRIMARY KEY, total int);',
      '2_orders.down.sql': 'DROP TABLE orders;',
    };
    const { project } = await stashed(branch, usersMigration, 'INSERT INTO orders (total) VALUES (1), (2)');
    const status = () => run(process.execPath, [BIN, 'status', '--json'], project.root);
    expect(JSON.parse(status().stdout).stash[0].willNotComeBack).toBeNull();
    project.setMigrations({ ...branch, '2_orders.up.sql': 'CREATE TABLE orders (id serial PRIMARY KEY, total int, note text);' });
    expect(JSON.parse(status().stdout).stash[0].willNotComeBack).toContain('differs from the one it was kept for (edited since)');
    await migrate(project.settings());
    const after = status();
    expect(JSON.parse(after.stdout).stash[0].willNotComeBack).toContain('is applied again, from an up file that differs');
    expect(run(process.execPath, [BIN, 'status'], project.root).stdout).toContain('will not come back by itself');
  });
});

describe('a down that runs outside a transaction (item 11)', () => {
  it('the plan says its rows are not kept and that undo is the way back', async () => {
    const branch = {
      ...usersMigration,
      '2_logs.up.sql': 'CREATE TABLE logs (id serial PRIMARY KEY, line text);',
      '2_logs.down.sql': '-- dbguard:no-transaction\nDROP TABLE logs;',
    };
    const db = await createDatabase('stash');
    const project = new Project(db, { snapshots: false });
    projects.push(project);
    project.setMigrations(branch);
    await migrate(project.settings());
    await query(db, "INSERT INTO logs (line) VALUES ('a'), ('b')");
    project.setMigrations(usersMigration);
    const dry = run(process.execPath, [BIN, 'rollback', '--dry-run'], project.root);
    expect(dry.stdout).toContain('rows it drops are NOT kept (its down runs outside a transaction); dbguard undo');
  });
});

describe('entries that did not fit come back later, row by row (item 10c)', () => {
  const branch = {
    ...usersMigration,
    '2_child.up.sql': 'CREATE TABLE child (id int PRIMARY KEY, user_id int REFERENCES users);',
    '2_child.down.sql': 'DROP TABLE child;',
  };
  const seed = "INSERT INTO users (id, name) VALUES (1, 'parent'), (2, 'other'); INSERT INTO child VALUES (1, 1), (2, 2)";

  it('dbguard stash restore <id> [--dry-run]: puts back what fits now, keeps the table\'s own rows, and keeps the rest', async () => {
    const { db, project, migrated } = await roundTrip(branch, usersMigration, seed, 'DELETE FROM users WHERE id = 1');
    expect(migrated.restored?.[0]?.message).toContain('1 of 2 rows put back; 1 stay in stash');
    const [{ id } = { id: 0 }] = await rows(db, 'SELECT id::int AS id FROM _dbguard.stash') as Array<{ id: number }>;
    const restore = (...extra: string[]) => run(process.execPath, [BIN, 'stash', 'restore', String(id), ...extra], project.root);
    const still = restore();
    expect(still.status).toBe(1);
    expect(still.stdout).toContain('they reference rows of public.users that are not there');
    await query(db, "INSERT INTO users (id, name) VALUES (1, 'parent again'); INSERT INTO child VALUES (1, 2)");
    const clash = restore();
    expect(clash.status).toBe(1);
    expect(clash.stdout).toContain('1 stay in stash');
    expect(clash.stdout).toContain('the table has a row under the same key now (yours, kept)');
    expect(await rows(db, 'SELECT id, user_id FROM child ORDER BY id')).toEqual([{ id: 1, user_id: 2 }, { id: 2, user_id: 2 }]);
    await query(db, 'DELETE FROM child WHERE id = 1');
    const dry = restore('--dry-run');
    expect(dry.status, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toContain('would put back: table public.child: 1 of 1 rows put back');
    expect(await rows(db, 'SELECT count(*)::int AS n FROM child')).toEqual([{ n: 1 }]);
    expect(await rows(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 1 }]);
    expect(restore().status).toBe(0);
    expect(await rows(db, 'SELECT id, user_id FROM child ORDER BY id')).toEqual([{ id: 1, user_id: 1 }, { id: 2, user_id: 2 }]);
    expect(await rows(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 0 }]);
    expect(restore().stdout + restore().stderr).toContain('STASH_NOT_FOUND');
  });

  it('a sequence moves past the ids still waiting in the stash, so the table never hands one of them out', async () => {
    const orders = {
      ...usersMigration,
      '2_orders.up.sql': 'CREATE TABLE orders (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id integer NOT NULL REFERENCES users ON DELETE CASCADE);',
      '2_orders.down.sql': 'DROP TABLE orders;',
    };
    // Order 3's user is deleted while the order waits in the stash: it cannot go back, and stays.
    const { db } = await roundTrip(orders, usersMigration, "INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c'); INSERT INTO orders (user_id) VALUES (1), (2), (3)", 'DELETE FROM users WHERE id = 3');
    expect(await rows(db, 'SELECT id FROM orders ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await rows(db, 'INSERT INTO orders (user_id) VALUES (1) RETURNING id')).toEqual([{ id: 4 }]);
  });

  it('a dry run changes nothing, not even a sequence (setval is not undone by a ROLLBACK)', async () => {
    const serial = { ...usersMigration, '2_child.up.sql': 'CREATE TABLE child (id serial PRIMARY KEY, user_id int REFERENCES users);', '2_child.down.sql': 'DROP TABLE child;' };
    const { db, project } = await roundTrip(serial, usersMigration,
      "INSERT INTO users (id, name) VALUES (1, 'parent'), (2, 'other'); INSERT INTO child VALUES (1, 2), (7, 1)", 'DELETE FROM users WHERE id = 1');
    // Child 7 waits in the stash: the re-apply moved the sequence past it already. Set it back by hand so
    // the dry run has a sequence it could wrongly move.
    expect(await rows(db, 'SELECT last_value::int AS n FROM child_id_seq')).toEqual([{ n: 7 }]);
    await query(db, "SELECT setval('child_id_seq', 1); INSERT INTO users (id, name) VALUES (1, 'back')");
    const [{ id } = { id: 0 }] = await rows(db, 'SELECT id::int AS id FROM _dbguard.stash') as Array<{ id: number }>;
    const dry = run(process.execPath, [BIN, 'stash', 'restore', String(id), '--dry-run'], project.root);
    expect(dry.stdout).toContain('would put back: table public.child: 1 of 1 rows put back');
    expect(await rows(db, 'SELECT last_value::int AS n FROM child_id_seq')).toEqual([{ n: 1 }]);
    expect(run(process.execPath, [BIN, 'stash', 'restore', String(id)], project.root).status).toBe(0);
    expect(await rows(db, 'SELECT last_value::int AS n FROM child_id_seq')).toEqual([{ n: 7 }]);
  });

  it('an entry a restore left is tried again when its migration is applied again', async () => {
    const { db, project } = await roundTrip(branch, usersMigration, seed, 'DELETE FROM users WHERE id = 1');
    expect(await rows(db, 'SELECT row_count::int AS n, note IS NOT NULL AS noted FROM _dbguard.stash')).toEqual([{ n: 1, noted: true }]);
    await query(db, "INSERT INTO users (id, name) VALUES (1, 'parent again')");
    project.setMigrations(usersMigration);
    await rollback(project.settings());
    project.setMigrations(branch);
    const again = await migrate(project.settings());
    expect(again.restored?.map((r) => r.left)).toEqual([0, 0]);
    expect(await rows(db, 'SELECT id, user_id FROM child ORDER BY id')).toEqual([{ id: 1, user_id: 1 }, { id: 2, user_id: 2 }]);
    expect(await rows(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 0 }]);
  });
});

describe('circular foreign keys (item 10d)', () => {
  it('DEFERRABLE keys: the two tables go back together', async () => {
    const branch = {
      ...usersMigration,
      '2_pair.up.sql': `CREATE TABLE a (id int PRIMARY KEY, b_id int); CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a DEFERRABLE INITIALLY DEFERRED);
        ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b DEFERRABLE INITIALLY DEFERRED;`,
      '2_pair.down.sql': 'DROP TABLE a, b;',
    };
    const { db, migrated } = await roundTrip(branch, usersMigration, 'INSERT INTO a VALUES (1, 1), (2, 1); INSERT INTO b VALUES (1, 2)');
    expect(migrated.restored?.map((r) => r.left)).toEqual([0, 0]);
    expect(await rows(db, 'SELECT id, b_id FROM a ORDER BY id')).toEqual([{ id: 1, b_id: 1 }, { id: 2, b_id: 1 }]);
    expect(await rows(db, 'SELECT id, a_id FROM b')).toEqual([{ id: 1, a_id: 2 }]);
  });

  it('keys that are not DEFERRABLE: what can go goes, and the rest says it is a cycle, not "rows that are gone"', async () => {
    const branch = {
      ...usersMigration,
      '2_pair.up.sql': 'CREATE TABLE a (id int PRIMARY KEY, b_id int); CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a); ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;',
      '2_pair.down.sql': 'DROP TABLE a, b;',
    };
    const { db, migrated } = await roundTrip(branch, usersMigration, 'INSERT INTO a VALUES (1, NULL), (2, NULL); INSERT INTO b VALUES (1, 1); UPDATE a SET b_id = 1 WHERE id = 1');
    const messages = (migrated.restored ?? []).map((r) => r.message).join('\n');
    expect(messages).not.toContain('not there');
    expect(messages).toContain('table public.a: 1 of 2 rows put back; 1 stay in stash');
    expect(messages).toMatch(/they and the rows of public\.b \(also in the stash\) reference each other, and a_b_id_fkey is not DEFERRABLE/);
    expect(await rows(db, 'SELECT id, b_id FROM a')).toEqual([{ id: 2, b_id: null }]);
  });
});

describe('materialized views read the restored rows (item 12)', () => {
  it('those reading a restored table, directly or through a view, are refreshed', async () => {
    const branch = {
      ...usersMigration,
      '2_sales.up.sql': `CREATE TABLE sales (id serial PRIMARY KEY, amount int NOT NULL);
        CREATE MATERIALIZED VIEW totals AS SELECT count(*)::int AS n, coalesce(sum(amount), 0)::int AS s FROM sales;
        CREATE VIEW big_sales AS SELECT * FROM sales WHERE amount > 10;
        CREATE MATERIALIZED VIEW big_totals AS SELECT count(*)::int AS n FROM big_sales;
        CREATE MATERIALIZED VIEW later AS SELECT count(*)::int AS n FROM sales WITH NO DATA;`,
      '2_sales.down.sql': 'DROP MATERIALIZED VIEW later, big_totals, totals; DROP VIEW big_sales; DROP TABLE sales;',
    };
    const { db, migrated } = await roundTrip(branch, usersMigration, 'INSERT INTO sales (amount) VALUES (5), (20), (30); REFRESH MATERIALIZED VIEW totals; REFRESH MATERIALIZED VIEW big_totals');
    expect(migrated.restored?.[0]?.message).toContain('refreshed materialized views public.totals, public.big_totals');
    expect(await rows(db, 'SELECT n, s FROM totals')).toEqual([{ n: 3, s: 55 }]);
    expect(await rows(db, 'SELECT n FROM big_totals')).toEqual([{ n: 2 }]);
    expect(await rows(db, "SELECT relispopulated AS p FROM pg_class WHERE relname = 'later'")).toEqual([{ p: false }]);
  });
});

describe('the adversarial pass on restores (issue 18, second round)', () => {
  it('no primary key, a UNIQUE value the up seeds again: the user\'s row stays in the stash (it was dropped), an identical one is already there', async () => {
    const branch = {
      ...usersMigration,
      '2_settings.up.sql': "CREATE TABLE settings (name text UNIQUE, value text); INSERT INTO settings VALUES ('theme', 'light'), ('size', 'm');",
      '2_settings.down.sql': 'DROP TABLE settings;',
    };
    const { db, migrated } = await roundTrip(branch, usersMigration, "UPDATE settings SET value = 'dark' WHERE name = 'theme'; INSERT INTO settings VALUES ('lang', 'fr')");
    expect(migrated.restored?.[0]?.message).toContain('1 of 3 rows put back');
    expect(migrated.restored?.[0]?.message).toContain('1 already there (the same row)');
    expect(migrated.restored?.[0]?.message).toContain('settings_name_key');
    expect(await rows(db, 'SELECT name, value FROM settings ORDER BY name')).toEqual([{ name: 'lang', value: 'fr' }, { name: 'size', value: 'm' }, { name: 'theme', value: 'light' }]);
    expect(await rows(db, 'SELECT count(*)::int AS n FROM _dbguard.stash_data_1 WHERE value = \'dark\'')).toEqual([{ n: 1 }]);
  });

  it('a shorter varchar or char column never cuts a value: what does not fit stays', async () => {
    const wide = { ...usersMigration, '2_codes.up.sql': 'CREATE TABLE codes (id serial PRIMARY KEY, code varchar(20));', '2_codes.down.sql': 'DROP TABLE codes;' };
    const narrow = { ...usersMigration, '2_codes.up.sql': 'CREATE TABLE codes (id serial PRIMARY KEY, code varchar(4));', '2_codes.down.sql': 'DROP TABLE codes;' };
    const { db, project } = await stashed(wide, usersMigration, "INSERT INTO codes (code) VALUES ('abcdefgh'), ('ab')");
    project.setMigrations(narrow);
    await migrate(project.settings()); // another up file: nothing comes back by itself; by hand it does
    const restored = run(process.execPath, [BIN, 'stash', 'restore', 'all'], project.root);
    expect(restored.stdout).toContain('values of code do not fit the column\'s new type');
    expect(await rows(db, 'SELECT id, code FROM codes ORDER BY id')).toEqual([{ id: 1, code: null }, { id: 2, code: 'ab' }]);
    expect(await rows(db, 'SELECT code FROM _dbguard.stash_data_1 WHERE id = \'1\'')).toEqual([{ code: 'abcdefgh' }]);
  });

  it('keys are compared as values: an up that sets TIME ZONE loses no value of a timestamptz-keyed row', async () => {
    const base = { '1_events.up.sql': 'CREATE TABLE events (at timestamptz PRIMARY KEY, kind text);', '1_events.down.sql': 'DROP TABLE events;' };
    const branch = { ...base, '2_note.up.sql': "SET TIME ZONE 'Asia/Tokyo'; ALTER TABLE events ADD COLUMN note text;", '2_note.down.sql': 'ALTER TABLE events DROP COLUMN note;' };
    const { db } = await roundTrip(branch, base, "INSERT INTO events VALUES ('2020-01-01 10:00:00+00', 'a', 'first'), ('2020-06-01 23:30:00+02', 'b', 'second')");
    expect(await rows(db, 'SELECT kind, note FROM events ORDER BY at')).toEqual([{ kind: 'a', note: 'first' }, { kind: 'b', note: 'second' }]);
  });

  it('a column value whose row still waits in the stash is kept, not called "deleted since"', async () => {
    const base = { '1_users.up.sql': "CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE); INSERT INTO users VALUES (1, 'admin@x');", '1_users.down.sql': 'DROP TABLE users;' };
    const branch = { ...base, '2_nick.up.sql': 'ALTER TABLE users ADD COLUMN nick text;', '2_nick.down.sql': 'ALTER TABLE users DROP COLUMN nick;' };
    const { db, project, migrated } = await roundTrip(branch, {}, "DELETE FROM users; INSERT INTO users VALUES (2, 'admin@x', 'bob'), (3, 'c@x', 'carol')");
    expect(migrated.restored?.map((r) => r.message).join('\n')).not.toContain('deleted since');
    // Row 3 went back (and its nick with it); row 2 clashes with the seeded admin@x and waits, and so does bob.
    expect(await rows(db, 'SELECT id, nick FROM users ORDER BY id')).toEqual([{ id: 1, nick: null }, { id: 3, nick: 'carol' }]);
    await query(db, 'DELETE FROM users WHERE id = 1');
    expect(run(process.execPath, [BIN, 'stash', 'restore', 'all'], project.root).status).toBe(0);
    expect(await rows(db, 'SELECT id, nick FROM users ORDER BY id')).toEqual([{ id: 2, nick: 'bob' }, { id: 3, nick: 'carol' }]);
  });

  it('stash restore fills only empty values: one the user entered since stays theirs', async () => {
    const base = { '1_users.up.sql': 'CREATE TABLE users (id int PRIMARY KEY, name text);', '1_users.down.sql': 'DROP TABLE users;' };
    const branch = { ...base, '2_email.up.sql': 'ALTER TABLE users ADD COLUMN email text;', '2_email.down.sql': 'ALTER TABLE users DROP COLUMN email;' };
    const { db, project } = await roundTrip(branch, base, "INSERT INTO users VALUES (1, 'a', 'a@x'), (2, 'b', 'b@x')", "UPDATE users SET name = 'A' WHERE id = 1");
    await query(db, "UPDATE users SET email = 'new@x', name = 'a' WHERE id = 1");
    const restored = run(process.execPath, [BIN, 'stash', 'restore', 'all'], project.root);
    expect(restored.stdout).toContain('1 stay in stash');
    expect(restored.stdout).toContain('their rows have a value there now (yours, kept)');
    expect(await rows(db, 'SELECT id, email FROM users ORDER BY id')).toEqual([{ id: 1, email: 'new@x' }, { id: 2, email: 'b@x' }]);
  });

  it('a cycle that is not DEFERRABLE does not hold back a DEFERRABLE one; an inheriting child\'s rows are not copied into its parent', async () => {
    const branch = {
      ...usersMigration,
      '2_cycles.up.sql': `CREATE TABLE a (id int PRIMARY KEY, b_id int); CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a); ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;
        CREATE TABLE c (id int PRIMARY KEY, d_id int); CREATE TABLE d (id int PRIMARY KEY, c_id int REFERENCES c DEFERRABLE INITIALLY DEFERRED);
        ALTER TABLE c ADD FOREIGN KEY (d_id) REFERENCES d DEFERRABLE INITIALLY DEFERRED;
        CREATE TABLE parent (id int, v text); CREATE TABLE child (extra text) INHERITS (parent);`,
      '2_cycles.down.sql': 'DROP TABLE a, b, c, d, child, parent;',
    };
    const { db, migrated } = await roundTrip(branch, usersMigration,
      `INSERT INTO a VALUES (1, NULL); INSERT INTO b VALUES (1, 1); UPDATE a SET b_id = 1; INSERT INTO c VALUES (1, 1); INSERT INTO d VALUES (1, 1);
       INSERT INTO parent VALUES (1, 'p'); INSERT INTO child VALUES (2, 'c', 'x')`);
    expect(await rows(db, 'SELECT id, d_id FROM c')).toEqual([{ id: 1, d_id: 1 }]);
    expect(await rows(db, 'SELECT id, c_id FROM d')).toEqual([{ id: 1, c_id: 1 }]);
    expect(migrated.restored?.map((r) => r.message).join('\n')).toMatch(/a_b_id_fkey is not DEFERRABLE/);
    expect(await rows(db, 'SELECT id, v FROM ONLY parent')).toEqual([{ id: 1, v: 'p' }]);
    expect(await rows(db, 'SELECT id, v, extra FROM child')).toEqual([{ id: 2, v: 'c', extra: 'x' }]);
  });

  it('a UNIQUE clash holds back only the rows that clash', async () => {
    const branch = { ...usersMigration, '2_tags.up.sql': "CREATE TABLE tags (id int PRIMARY KEY, name text UNIQUE); INSERT INTO tags VALUES (10, 'a');", '2_tags.down.sql': 'DROP TABLE tags;' };
    const { db, migrated } = await roundTrip(branch, usersMigration, "DELETE FROM tags; INSERT INTO tags VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    expect(migrated.restored?.[0]?.message).toContain('2 of 3 rows put back');
    expect(migrated.restored?.[0]?.message).toContain('tags_name_key');
    expect(await rows(db, 'SELECT id, name FROM tags ORDER BY id')).toEqual([{ id: 2, name: 'b' }, { id: 3, name: 'c' }, { id: 10, name: 'a' }]);
  });
});

describe('rows that went back without some values are completed later (issue 18, second round)', () => {
  it('once the values fit, stash restore fills them in, and the rows leave the stash', async () => {
    const before = { '1_t.up.sql': 'CREATE TABLE t (id int PRIMARY KEY, n text, m text NOT NULL);', '1_t.down.sql': 'DROP TABLE t;' };
    const after = { '1_t.up.sql': 'CREATE TABLE t (id int PRIMARY KEY, n int, m int NOT NULL);', '1_t.down.sql': 'DROP TABLE t;' };
    const { db, project } = await stashed(before, {}, "INSERT INTO t VALUES (1, 'abc', '7'), (2, '5', '8'), (3, '6', 'x')");
    project.setMigrations(after);
    await migrate(project.settings());
    const restore = () => run(process.execPath, [BIN, 'stash', 'restore', 'all'], project.root);
    expect(restore().status).toBe(1);
    expect(await rows(db, 'SELECT id, n, m FROM t ORDER BY id')).toEqual([{ id: 1, n: null, m: 7 }, { id: 2, n: 5, m: 8 }]);
    await query(db, 'ALTER TABLE t ALTER COLUMN n TYPE text, ALTER COLUMN m TYPE text');
    const second = restore();
    // Row 2 fit whole the first time and left the stash then; row 3 (m) waited; row 1 went back with n NULL.
    expect(second.stdout).toContain('1 of 2 rows put back');
    expect(second.stdout).toContain('1 values of rows that went back earlier without them filled in (1 of those rows now complete, out of the stash)');
    expect(second.status).toBe(0);
    expect(await rows(db, 'SELECT id, n, m FROM t ORDER BY id')).toEqual([{ id: 1, n: 'abc', m: '7' }, { id: 2, n: '5', m: '8' }, { id: 3, n: '6', m: 'x' }]);
    expect(await rows(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 0 }]);
  });
});

describe('what a restore says is kept is kept (issue 25.3)', () => {
  it('a table back with its column renamed: the rows go back, the values of the gone column stay in the stash, listed', async () => {
    const named = { ...usersMigration, '2_tags.up.sql': 'CREATE TABLE tags (id serial PRIMARY KEY, name text);', '2_tags.down.sql': 'DROP TABLE tags;' };
    const labelled = { ...usersMigration, '2_tags.up.sql': 'CREATE TABLE tags (id serial PRIMARY KEY, label text);', '2_tags.down.sql': 'DROP TABLE tags;' };
    const { db, project } = await stashed(named, usersMigration, "INSERT INTO tags (name) VALUES ('red'), ('blue')");
    project.setMigrations(labelled);
    await migrate(project.settings()); // another up file: nothing comes back by itself
    const restore = () => run(process.execPath, [BIN, 'stash', 'restore', '1'], project.root);
    const first = restore();
    expect(first.stdout).toContain('table public.tags: 2 of 2 rows put back; columns not restored: name (gone, or a type their values do not cast to); kept in stash 1');
    expect(first.status).toBe(1);
    expect(await rows(db, 'SELECT id, label FROM tags ORDER BY id')).toEqual([{ id: 1, label: null }, { id: 2, label: null }]);
    const listed = JSON.parse(run(process.execPath, [BIN, 'stash', 'list', '--json'], project.root).stdout) as { entries: Array<{ id: number; rows: number }> };
    expect(listed.entries.map((e) => [e.id, e.rows])).toEqual([[1, 2]]);
    expect(await rows(db, 'SELECT id, name FROM _dbguard.stash_data_1 ORDER BY id')).toEqual([{ id: '1', name: 'red' }, { id: '2', name: 'blue' }]);
    // Again: the rows are not put back twice, and the values still stay.
    const again = restore();
    expect(again.stdout).toContain('0 of 2 rows put back');
    expect(again.stdout).toContain('kept in stash 1');
    expect(await rows(db, 'SELECT count(*)::int AS n FROM tags')).toEqual([{ n: 2 }]);
    expect(await rows(db, 'SELECT count(*)::int AS n FROM _dbguard.stash_data_1')).toEqual([{ n: 2 }]);
  });
});

describe('a migration renumbered (issue 25.11)', () => {
  const orders = { up: 'CREATE TABLE orders (id serial PRIMARY KEY, total int);', down: 'DROP TABLE orders;' };
  const asVersion = (version: number): Migrations => ({ [`${version}_orders.up.sql`]: orders.up, [`${version}_orders.down.sql`]: orders.down });
  // main took 8 for a migration of its own, so the branch's 8 became 10: the same up file.
  const mainsEight = { '8_audit.up.sql': 'CREATE TABLE audit (id serial PRIMARY KEY);', '8_audit.down.sql': 'DROP TABLE audit;' };
  const seed = 'INSERT INTO orders (total) VALUES (5), (7)';

  it('status names the renumbering; migrate applying 10 puts back the rows kept for 8', async () => {
    const { db, project } = await stashed({ ...usersMigration, ...asVersion(8) }, usersMigration, seed);
    project.setMigrations({ ...usersMigration, ...mainsEight, ...asVersion(10) });
    const status = run(process.execPath, [BIN, 'status'], project.root);
    expect(status.stdout).toMatch(/stash +1 kept \([\d.]+ kB\) for 10 \(8 renumbered\): back when applied again/);
    expect(JSON.parse(run(process.execPath, [BIN, 'status', '--json'], project.root).stdout).stash[0].willNotComeBack).toBeNull();
    const migrated = await migrate(project.settings());
    expect(migrated.restored?.map((r) => r.message)).toEqual(['table public.orders: 2 of 2 rows put back']);
    expect(await rows(db, 'SELECT id, total FROM orders ORDER BY id')).toEqual([{ id: 1, total: 5 }, { id: 2, total: 7 }]);
    expect(await rows(db, 'SELECT count(*)::int AS n FROM _dbguard.stash')).toEqual([{ n: 0 }]);
  });

  it('the app applies 10 itself: capture puts them back', async () => {
    const { db, project } = await stashed({ ...usersMigration, ...asVersion(8) }, usersMigration, seed);
    project.setMigrations({ ...usersMigration, ...asVersion(10) });
    await query(db, `${orders.up} UPDATE schema_migrations SET version = 10`);
    const captured = await capture(project.settings());
    expect(captured.restored.map((r) => r.message)).toEqual(['table public.orders: 2 of 2 rows put back']);
    expect(await rows(db, 'SELECT count(*)::int AS n FROM orders')).toEqual([{ n: 2 }]);
  });

  it('10 recorded applied without them (as dbguard did before): status points at stash restore', async () => {
    const { db, project } = await stashed({ ...usersMigration, ...asVersion(8) }, usersMigration, seed);
    project.setMigrations({ ...usersMigration, ...asVersion(10) });
    await query(db, `${orders.up} UPDATE schema_migrations SET version = 10;
      INSERT INTO _dbguard.applied_migrations (version, filename, down_sql, up_sha256) SELECT 10, '10_orders.up.sql', '${orders.down}', up_sha256 FROM _dbguard.stash`);
    const [{ id } = { id: 0 }] = await rows(db, 'SELECT id::int AS id FROM _dbguard.stash') as Array<{ id: number }>;
    const status = run(process.execPath, [BIN, 'status'], project.root);
    expect(status.stdout).toContain(`will not come back by itself: 8 was renumbered 10 (the same up file), which is applied already: dbguard stash restore ${id} puts back what fits now`);
    expect(run(process.execPath, [BIN, 'stash', 'restore', String(id)], project.root).status).toBe(0);
    expect(await rows(db, 'SELECT total FROM orders ORDER BY id')).toEqual([{ total: 5 }, { total: 7 }]);
  });
});
