/** `dbguard verify` (DESIGN §11) on a temporary embedded database, over §10's shapes. */
import { afterEach, describe, expect, it } from 'vitest';
import { verifyMigrations } from '../../src/engine/verify.js';
import { silent } from '../../src/core/events.js';
import { Project } from '../helpers/db.js';

const projects: Project[] = [];
afterEach(() => projects.splice(0).forEach((p) => p.cleanup()));

const T = (n: number) => 20260101000000 + n * 10000;
const good = {
  [`${T(1)}_users.up.sql`]: "CREATE TYPE plan AS ENUM ('free', 'paid');\nCREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE, plan plan DEFAULT 'free');",
  [`${T(1)}_users.down.sql`]: 'DROP TABLE users;\nDROP TYPE plan;',
  [`${T(2)}_audit.up.sql`]: `BEGIN;
CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), what text);
CREATE FUNCTION audit_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.at := now(); RETURN NEW; END $$;
CREATE TRIGGER audit_touch BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_touch();
COMMIT;`,
  [`${T(2)}_audit.down.sql`]: 'DROP TABLE audit;\nDROP FUNCTION audit_touch();',
  [`${T(3)}_backfill.up.sql`]: "CREATE EXTENSION IF NOT EXISTS plpgsql;\nCREATE TEMP TABLE t AS SELECT id FROM users;\nDO $$ BEGIN UPDATE users SET plan = 'free' WHERE plan IS NULL; END $$;\nDROP TABLE t;",
  [`${T(3)}_backfill.down.sql`]: '-- no-op: data only\n',
  [`${T(4)}_users_idx.up.sql`]: 'CREATE INDEX CONCURRENTLY users_plan ON users (plan);',
  [`${T(4)}_users_idx.down.sql`]: 'DROP INDEX CONCURRENTLY users_plan;',
};

function project(files: Record<string, string>): Project {
  const p = new Project('unused');
  projects.push(p);
  p.setMigrations(files);
  return p;
}

describe('dbguard verify', () => {
  it('passes migrations whose downs restore the schema, data-only ones with no-op downs included', async () => {
    const result = await verifyMigrations(project(good).settings(), silent);
    expect(result).toEqual({ checked: 4, findings: [], skipped: [] });
  });

  it('names what a down leaves or loses, and the migration responsible', async () => {
    const result = await verifyMigrations(project({
      ...good,
      // A repair that adds a column IF NOT EXISTS; its down forgets the default it changed.
      [`${T(5)}_repair.up.sql`]: "ALTER TABLE users ADD COLUMN IF NOT EXISTS name text;\nALTER TABLE users ALTER COLUMN plan SET DEFAULT 'paid';",
      [`${T(5)}_repair.down.sql`]: 'ALTER TABLE users DROP COLUMN name;',
      [`${T(6)}_no_down.up.sql`]: 'CREATE TABLE lonely (id int);',
      // The §10 irreversible cleanup: a backup table and an empty down (so its up cannot even run twice).
      [`${T(7)}_cleanup.up.sql`]: 'CREATE TABLE audit_backup AS SELECT * FROM audit;\nDELETE FROM audit;',
      [`${T(7)}_cleanup.down.sql`]: '',
    }).settings(), silent);
    expect(result.checked).toBe(7);
    expect(result.findings.map((f) => [String(f.version), f.kind])).toEqual([
      [String(T(5)), 'down-does-not-restore'], [String(T(6)), 'no-down-file'], [String(T(7)), 'down-does-not-restore'], [String(T(7)), 'up-failed'],
    ]);
    expect(result.findings[0]?.message).toContain('column public.users.plan changed');
    expect(result.findings[2]?.message).toContain('table public.audit_backup left');
    expect(result.findings[3]?.message).toContain('after its down');
  });
});

describe('dbguard verify reports every problem in one run (issue 20.2)', () => {
  it('goes on after an up that cannot run again after its down, from the state the ups make, and checks the downs after it', async () => {
    const result = await verifyMigrations(project({
      ...good,
      // The down forgets the index, so the up (a plain CREATE INDEX) cannot run again.
      [`${T(5)}_email_idx.up.sql`]: 'CREATE INDEX users_email_lower ON users (lower(email));',
      [`${T(5)}_email_idx.down.sql`]: '-- forgot the index\n',
      [`${T(6)}_orders.up.sql`]: 'CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users);',
      [`${T(6)}_orders.down.sql`]: 'DROP TABLE orders;',
      // Later, another broken down: before, verify never got here.
      [`${T(7)}_notes.up.sql`]: 'ALTER TABLE orders ADD COLUMN note text;',
      [`${T(7)}_notes.down.sql`]: '-- forgot to drop it\n',
      // And one that needs what 5's up made (the index): the state is rebuilt from the ups, not from the broken trip.
      [`${T(8)}_idx_comment.up.sql`]: "COMMENT ON INDEX users_email_lower IS 'lower-case lookups';",
      [`${T(8)}_idx_comment.down.sql`]: 'COMMENT ON INDEX users_email_lower IS NULL;',
    }).settings(), silent);
    expect(result.checked).toBe(8);
    expect(result.findings.map((f) => [String(f.version), f.kind])).toEqual([
      [String(T(5)), 'down-does-not-restore'], [String(T(5)), 'up-failed'], [String(T(7)), 'down-does-not-restore'], [String(T(7)), 'up-failed'],
    ]);
  });

  it('a NOT NULL made again under the column\'s new name is the same NOT NULL (PostgreSQL 18 names them by column)', async () => {
    const result = await verifyMigrations(project({
      [`${T(1)}_accounts.up.sql`]: 'CREATE TABLE accounts (id serial PRIMARY KEY, mail text NOT NULL);',
      [`${T(1)}_accounts.down.sql`]: 'DROP TABLE accounts;',
      [`${T(2)}_rename.up.sql`]: 'ALTER TABLE accounts RENAME COLUMN mail TO email;',
      [`${T(2)}_rename.down.sql`]: 'ALTER TABLE accounts RENAME COLUMN email TO mail;',
      // Its constraint is still named accounts_mail_not_null; the down makes accounts_email_not_null.
      [`${T(3)}_drop_email.up.sql`]: 'ALTER TABLE accounts DROP COLUMN email;',
      [`${T(3)}_drop_email.down.sql`]: 'ALTER TABLE accounts ADD COLUMN email text NOT NULL;',
    }).settings(), silent);
    expect(result.findings).toEqual([]);
  });
});

describe('dbguard verify from the command line', () => {
  it('exits 1 with one --json document naming the findings, 0 when all downs restore', async () => {
    const { run, BIN } = await import('../helpers/git.js');
    const bad = project({ ...good, [`${T(5)}_leaves.up.sql`]: 'CREATE INDEX users_email_lower ON users (lower(email));', [`${T(5)}_leaves.down.sql`]: '-- forgot the index\n' });
    const result = run(process.execPath, [BIN, 'verify', '--json'], bad.root);
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ format: 1, ok: false, checked: 5, findings: [{ version: String(T(5)), kind: 'down-does-not-restore' }, { version: String(T(5)), kind: 'up-failed' }] });
    expect(run(process.execPath, [BIN, 'verify'], project(good).root).status).toBe(0);
  });
});

describe('dbguard verify on a goose folder with Go migrations (adversarial pass)', () => {
  it('verifies the SQL migrations, names the Go ones it skipped, and says a later failure may need them', async () => {
    const { run, BIN } = await import('../helpers/git.js');
    const goose = (up: string, down: string) => `-- +goose Up\n${up}\n\n-- +goose Down\n${down}\n`;
    const files = {
      '00001_users.sql': goose('CREATE TABLE users (id bigserial PRIMARY KEY, name text);', 'DROP TABLE users;'),
      '00002_seed.go': 'package migrations\n',
      '00003_posts.sql': goose('CREATE TABLE posts (id bigserial PRIMARY KEY, user_id bigint REFERENCES users);', 'DROP TABLE posts;'),
      'migrations.go': 'package migrations\n',
    };
    const p = new Project('unused', { format: 'goose' });
    projects.push(p);
    p.setMigrations(files);
    const ok = run(process.execPath, [BIN, 'verify'], p.root);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('skipped  00002_seed.go: a Go migration, which dbguard cannot run (its tool runs it)');
    expect(ok.stdout).toContain('ok: 2 of 3 migrations checked, every down restores the schema; not checked: 2 (a Go migration, which dbguard cannot run)');
    expect(JSON.parse(run(process.execPath, [BIN, 'verify', '--json'], p.root).stdout)).toMatchObject({
      ok: true, checked: 2, findings: [], skipped: [{ version: '2', filename: '00002_seed.go', why: 'a Go migration, which dbguard cannot run' }],
    });

    // A SQL up after a Go migration that needs what the Go one made: the failure names the skipped one.
    p.setMigrations({ ...files, '00003_posts.sql': goose('ALTER TABLE seeded ADD COLUMN x int;', 'ALTER TABLE seeded DROP COLUMN x;') });
    const failed = run(process.execPath, [BIN, 'verify'], p.root);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('the up of 3 failed: relation "seeded" does not exist (2 before it was skipped: a Go migration, which dbguard cannot run; it may be what this needs)');
  });
});

describe('dbguard verify interrupted', () => {
  it('Ctrl-C stops and removes its temporary cluster', async () => {
    const { spawn } = await import('node:child_process');
    const { readdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { BIN } = await import('../helpers/git.js');
    const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('dbguard-verify-')));
    const slow = project({ ...good, [`${T(5)}_slow.up.sql`]: 'SELECT pg_sleep(20);', [`${T(5)}_slow.down.sql`]: '-- no-op\n' });
    const child = spawn(process.execPath, [BIN, 'verify'], { cwd: slow.root, env: { PATH: process.env.PATH, NO_COLOR: '1' } });
    let out = '';
    let sent = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // Once: a second SIGINT, from a later chunk, would meet node's default handler.
      if (!sent && out.includes(`${T(4)}`)) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), 300); // inside the slow one
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    const left = readdirSync(tmpdir()).filter((n) => n.startsWith('dbguard-verify-') && !before.has(n));
    expect(left).toEqual([]);
  });
});
