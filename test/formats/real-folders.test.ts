/**
 * Issue 26, DESIGN §18: real projects' migration folders. A problem in one applied file concerns that
 * file: a five-year-old dbmate project whose schema dump marks an old, malformed file applied (its
 * `-- migrate:down` indented, which dbmate of the day read as part of the up) is captured, checked and
 * rolled back through everything but that file, which is named with the reason wherever it matters.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, urlFor } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';
import { gooseUp } from '../helpers/goose.js';
import { dbmate, dbmateStatus } from '../helpers/tools.js';

const CITIES = '20210301000000_create_cities_table.sql';
const STREETS = '20220415000000_create_streets.sql';
const TAGS = '20240105000000_create_tags.sql';

const DBMATE_FILES: Record<string, string> = {
  // Applied in 2021; the indented marker is on line 8.
  [CITIES]: `-- migrate:up
CREATE TABLE cities (
  id bigserial PRIMARY KEY,
  name text NOT NULL
);
CREATE INDEX cities_by_name ON cities (name);

    -- migrate:down
DROP INDEX cities_by_name;
`,
  [STREETS]: `-- migrate:up
CREATE TABLE streets (id bigserial PRIMARY KEY, city_id bigint NOT NULL REFERENCES cities);

-- migrate:down
DROP TABLE streets;
`,
  [TAGS]: `-- migrate:up
CREATE TABLE tags (id bigserial PRIMARY KEY, label text NOT NULL);

-- migrate:down
DROP TABLE tags;
`,
};

/** What `dbmate dump` wrote years ago (trimmed): the schema, and schema_migrations marking both files applied. */
const SCHEMA_DUMP = `SET statement_timeout = 0;
CREATE TABLE public.schema_migrations (version character varying(128) NOT NULL);
ALTER TABLE ONLY public.schema_migrations ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);
CREATE TABLE public.cities (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE INDEX cities_by_name ON public.cities (name);
CREATE TABLE public.streets (id bigserial PRIMARY KEY, city_id bigint NOT NULL REFERENCES public.cities);
INSERT INTO public.schema_migrations (version) VALUES
    ('20210301000000'),
    ('20220415000000');
`;

let repo: GitRepo | undefined;
afterEach(() => repo?.cleanup());

function commitDbmate(r: GitRepo, names: readonly string[], message: string): void {
  const dir = join(r.root, 'db', 'migrations');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const name of names) writeFileSync(join(dir, name), DBMATE_FILES[name] as string);
  r.git('add', '-A');
  r.git('commit', '-q', '-m', message);
}

const versions = async (db: string) => (await query<{ version: string }>(db, 'SELECT version FROM schema_migrations ORDER BY version')).map((row) => row.version);

describe('one malformed applied file concerns that file (§18)', () => {
  it('dbmate: the dump marks an old malformed file applied; capture records the others and names it; a rollback refuses only through it', async () => {
    const db = await createDatabase();
    const url = urlFor(db);
    repo = GitRepo.create({ nodeModules: false });
    const r = repo;
    rmSync(join(r.root, 'migrations'), { recursive: true });
    r.write('dbguard.config.json', JSON.stringify({ database: { url } }));
    commitDbmate(r, [CITIES, STREETS], 'old history');
    expect(r.dbguard(['hooks', 'install']).status).toBe(0);
    r.git('checkout', '-q', '-b', 'tags');
    commitDbmate(r, [CITIES, STREETS, TAGS], 'tags');
    // The team's set-up: load the dump, then the real dbmate applies the rest (it never reads an applied file again).
    await query(db, SCHEMA_DUMP);
    const up = dbmate(r.root, url, ['--no-dump-schema', 'up']);
    expect(up.status, up.stderr).toBe(0);
    expect(await versions(db)).toEqual(['20210301000000', '20220415000000', '20240105000000']);

    const captured = r.dbguard(['capture', '--json']);
    expect(captured.status, captured.stderr).toBe(0);
    const json = JSON.parse(captured.stdout);
    expect(json.captured).toEqual(['20220415000000', '20240105000000']);
    expect(json.withoutDownSql).toEqual([{ version: '20210301000000', filename: CITIES, kind: 'missing', why: expect.stringMatching(/^down SQL unavailable: line 8: "-- migrate:down" is not a marker dbmate reads/) }]);
    const said = r.dbguard(['capture']);
    expect(said.status, said.stderr).toBe(0);
    expect(said.stdout + said.stderr).toContain('20210301000000 (down SQL unavailable: line 8: "-- migrate:down" is not a marker dbmate reads');

    const status = r.dbguard(['status']);
    expect(status.status, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toContain(`no down SQL  20210301000000  ${CITIES}  down SQL unavailable: line 8`);
    expect(status.stdout).toContain('plan         nothing to roll back');
    expect(r.dbguard(['check']).status).toBe(0);

    // A rollback that does not pass through it works (dbmate agrees afterwards).
    const checkout = r.git('checkout', 'main');
    expect(checkout.stderr).toContain('this branch lacks 1 migration the database has applied: 20240105000000');
    expect(checkout.stderr).toContain('dbguard rollback');
    expect(checkout.stderr).not.toContain('MIGRATION_FILE_INVALID');
    const rolled = r.dbguard(['rollback', '--yes']);
    expect(rolled.status, rolled.stdout + rolled.stderr).toBe(0);
    expect(await versions(db)).toEqual(['20210301000000', '20220415000000']);
    expect(dbmateStatus(dbmate(r.root, url, ['status']).stdout)).toEqual({ applied: [CITIES, STREETS], pending: [] });

    // One that passes through it refuses, naming it, its reason, and the way that needs no down SQL.
    r.git('checkout', '-q', '--orphan', 'empty');
    r.git('rm', '-q', '-r', '--cached', 'db');
    rmSync(join(r.root, 'db', 'migrations'), { recursive: true });
    const through = r.dbguard(['rollback', '--yes']);
    expect(through.status).toBe(3);
    expect(through.stderr).toContain('error[NO_DOWN_SQL]');
    expect(through.stderr).toContain('20210301000000 (down SQL unavailable: line 8');
    expect(through.stderr).toContain('dbguard reset');
    expect(await versions(db)).toEqual(['20210301000000', '20220415000000']);
  });
});

describe('an applied malformed file fixed since (adversarial pass)', () => {
  // The fix: the marker where dbmate reads it, and a down that undoes the whole up.
  const FIXED = `-- migrate:up
CREATE TABLE cities (
  id bigserial PRIMARY KEY,
  name text NOT NULL
);
CREATE INDEX cities_by_name ON cities (name);

-- migrate:down
DROP TABLE cities;
`;

  it('status, check and migrate --reapply agree (no down SQL stored: accept the edit); capture says it left the edited file; --accept-edits records its down', async () => {
    const db = await createDatabase();
    repo = GitRepo.create({ nodeModules: false });
    const r = repo;
    rmSync(join(r.root, 'migrations'), { recursive: true });
    r.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    commitDbmate(r, [CITIES, STREETS], 'old history');
    await query(db, SCHEMA_DUMP);
    expect(r.dbguard(['capture']).status).toBe(0);
    r.commitFile(`db/migrations/${CITIES}`, FIXED, 'fix the down marker of cities');

    const status = r.dbguard(['status', '--json']);
    expect(status.status).toBe(1);
    const next = JSON.parse(status.stdout).next as string;
    expect(next).toBe('dbguard capture --accept-edits if the database already matches the edited file (--reapply cannot: no down SQL was stored for 20210301000000 when it was applied); otherwise dbguard reset (keeps a snapshot), then dbguard migrate');
    const said = r.dbguard(['status']).stdout;
    expect(said).toContain(`edited       ${CITIES} changed since applied: dbguard capture --accept-edits if the database already matches the edited file (--reapply cannot: no down SQL was stored for 20210301000000 when it was applied)`);
    const check = r.dbguard(['check']);
    expect(check.status).toBe(1);
    expect(check.stdout).not.toContain('dbguard migrate --reapply');
    expect(check.stdout).toContain('dbguard capture --accept-edits if the database already matches the edited file (--reapply cannot: no down SQL was stored for 20210301000000 when it was applied)');
    // Asked anyway, --reapply refuses, changing nothing, and points at what works (not at capture then --reapply again).
    const reapply = r.dbguard(['migrate', '--reapply', '20210301000000']);
    expect(reapply.status).toBe(3);
    expect(reapply.stderr).toContain('error[NO_DOWN_SQL] cannot re-apply 20210301000000: 20210301000000 was edited since applied and no down SQL was stored when it was applied (the edited file\'s down need not undo what the database ran); nothing was changed');
    expect(reapply.stderr).toContain('next: dbguard capture --accept-edits if the database already matches the edited file');
    expect(reapply.stderr).not.toContain('then dbguard migrate --reapply');

    // Plain capture does not take the edited file's down, and says so; the edit stays listed.
    const captured = r.dbguard(['capture']);
    expect(captured.status, captured.stderr).toBe(0);
    expect(captured.stdout + captured.stderr).toContain(`${CITIES} was edited since applied: its down SQL was not recorded from the edited file (dbguard capture --accept-edits records it, if the database already matches the edited file)`);
    expect(await query(db, 'SELECT down_sql FROM _dbguard.applied_migrations WHERE version = 20210301000000')).toEqual([{ down_sql: null }]);
    expect(r.dbguard(['status']).status).toBe(1);

    const accepted = r.dbguard(['capture', '--accept-edits']);
    expect(accepted.status, accepted.stderr).toBe(0);
    expect(accepted.stdout).toContain(`accepted the edit of ${CITIES}: the database is taken to match it, and its down SQL is the edited file's`);
    expect(await query(db, 'SELECT down_sql FROM _dbguard.applied_migrations WHERE version = 20210301000000')).toEqual([{ down_sql: expect.stringContaining('DROP TABLE cities;') }]);
    const after = r.dbguard(['status', '--json']);
    expect([after.status, JSON.parse(after.stdout).edited]).toEqual([0, []]);
  });
});

describe('a pending file with a bad marker (adversarial pass)', () => {
  it('check does not call it clean: exit 1, the file and its line named, as status and migrate say', async () => {
    const db = await createDatabase();
    repo = GitRepo.create({ nodeModules: false });
    const r = repo;
    rmSync(join(r.root, 'migrations'), { recursive: true });
    r.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    commitDbmate(r, [TAGS], 'tags');
    expect(r.dbguard(['migrate']).status).toBe(0);
    r.commitFile(`db/migrations/${CITIES}`, DBMATE_FILES[CITIES] as string, 'cities, its down marker indented');

    const migrate = r.dbguard(['migrate', '--dry-run']);
    expect(migrate.status).toBe(2);
    expect(migrate.stderr).toContain('error[MIGRATION_FILE_INVALID]');
    for (const args of [['check'], ['check', '--offline']]) {
      const check = r.dbguard(args);
      expect(check.status, args.join(' ')).toBe(1);
      expect(check.stdout).not.toContain('clean');
      expect(check.stdout).toContain(`invalid: ${CITIES} line 8: "-- migrate:down" is not a marker dbmate reads`);
      expect(check.stdout).toContain('next: write it as "-- migrate:down" at the start of the line');
      expect(JSON.parse(r.dbguard([...args, '--json']).stdout)).toMatchObject({ ok: false, invalid: [{ code: 'MIGRATION_FILE_INVALID' }] });
    }
    expect(r.dbguard(['status']).status).toBe(1);
  });
});

/** A goose folder as a real project has it: SQL files (one without a Down section) and Go migrations between them. */
const GOOSE_FILES: Record<string, string> = {
  '00001_create_users.sql': '-- +goose Up\nCREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL);\n\n-- +goose Down\nDROP TABLE users;\n',
  '00002_seed_admin.go': `package migrations

import (
\t"context"
\t"database/sql"

\t"github.com/pressly/goose/v3"
)

func init() { goose.AddMigrationContext(upSeedAdmin, downSeedAdmin) }

func upSeedAdmin(ctx context.Context, tx *sql.Tx) error {
\t_, err := tx.ExecContext(ctx, "INSERT INTO users (name) VALUES ('admin')")
\treturn err
}

func downSeedAdmin(ctx context.Context, tx *sql.Tx) error {
\t_, err := tx.ExecContext(ctx, "DELETE FROM users WHERE name = 'admin'")
\treturn err
}
`,
  '00003_create_posts.sql': '-- +goose Up\nCREATE TABLE posts (id bigserial PRIMARY KEY, user_id bigint REFERENCES users, body text);\n\n-- +goose Down\nDROP TABLE posts;\n',
  '00004_create_audit.sql': '-- +goose Up\nCREATE TABLE audit (id bigserial PRIMARY KEY, note text);\n',
  '00005_backfill_slugs.go': 'package migrations\n\n// Adds posts.slug and fills it from the body (Go code; the stand-in runs its SQL).\n',
  '00005_backfill_slugs_test.go': 'package migrations\n',
  'migrations.go': 'package migrations\n',
  '00006_create_tags.sql': '-- +goose Up\nCREATE TABLE tags (id bigserial PRIMARY KEY, label text);\n\n-- +goose Down\nDROP TABLE tags;\n',
};
const GO_SQL = { '00002_seed_admin.go': "INSERT INTO users (name) VALUES ('admin')", '00005_backfill_slugs.go': 'ALTER TABLE posts ADD COLUMN slug text' };
const gooseFiles = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, GOOSE_FILES[n] as string]));
const MAIN = ['00001_create_users.sql', '00002_seed_admin.go', '00003_create_posts.sql', 'migrations.go'];
const FEATURE = [...MAIN, '00004_create_audit.sql', '00005_backfill_slugs.go', '00005_backfill_slugs_test.go', '00006_create_tags.sql'];

const gooseRows = async (db: string) => (await query<{ v: string }>(db, 'SELECT version_id::text AS v FROM goose_db_version WHERE is_applied ORDER BY id')).map((row) => row.v);

describe('goose Go migrations are migrations (§18)', () => {
  it('listed, tracked and versioned; migrate applies up to one and stops; goose runs it, capture records it; a phantom Go migration is named and a rollback through it refuses', async () => {
    const db = await createDatabase();
    repo = GitRepo.create({ nodeModules: false });
    const r = repo;
    r.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, format: 'goose' }));
    r.commitMigrations(gooseFiles(MAIN), 'main');
    expect(r.dbguard(['hooks', 'install']).status).toBe(0);

    const listed = r.dbguard(['status', '--json']);
    expect(listed.status, listed.stderr).not.toBe(2);
    expect(JSON.parse(listed.stdout)).toMatchObject({ onDisk: 3, pending: [{ version: '1' }, { version: '2', filename: '00002_seed_admin.go' }, { version: '3' }] });
    const stops = r.dbguard(['migrate']);
    expect(stops.status, stops.stderr).toBe(3);
    expect(stops.stderr).toContain('error[NOT_RUNNABLE] 00002_seed_admin.go is a Go migration, which dbguard cannot run; applied 1 before it (database at 1)');
    expect(stops.stderr).toContain('goose up');
    expect(stops.stderr).toContain('then dbguard capture');
    expect(await gooseRows(db)).toEqual(['0', '1']);

    // The project's goose binary runs it (and the rest); capture records the Go migration as applied, without down SQL.
    expect(await gooseUp(db, join(r.root, 'migrations'), GO_SQL)).toEqual(['2', '3']);
    const captured = r.dbguard(['capture', '--json']);
    expect(captured.status, captured.stderr).toBe(0);
    expect(JSON.parse(captured.stdout).withoutDownSql).toEqual([{ version: '2', filename: '00002_seed_admin.go', kind: 'missing', why: 'a Go migration, which dbguard cannot run' }]);
    const status = r.dbguard(['status']);
    expect(status.status, status.stdout + status.stderr).toBe(0);
    expect(status.stdout).toContain('no down SQL  2  00002_seed_admin.go  a Go migration, which dbguard cannot run');
    expect(r.dbguard(['check']).status).toBe(0);

    r.git('checkout', '-q', '-b', 'feature');
    r.commitMigrations(gooseFiles(FEATURE), 'feature');
    const lint = r.dbguard(['lint', '--base', 'main']);
    expect(lint.stdout + lint.stderr).not.toContain('invalid');
    expect(lint.status).toBe(0);
    const again = r.dbguard(['migrate']);
    expect(again.status).toBe(3);
    expect(again.stderr).toContain('00005_backfill_slugs.go is a Go migration, which dbguard cannot run; applied 1 before it (database at 4)');
    expect(await gooseUp(db, join(r.root, 'migrations'), GO_SQL)).toEqual(['5', '6']);
    expect(r.dbguard(['capture']).status).toBe(0);

    const checkout = r.git('checkout', 'main');
    expect(checkout.stderr).toContain('this branch lacks 3 migrations the database has applied: 6, 5, 4');
    expect(checkout.stderr).toContain('rollback would refuse (NO_DOWN_SQL): no down SQL for 5 (a Go migration, which dbguard cannot run)');
    expect(checkout.stderr).toContain('the project\'s own goose binary rolls it back (goose down-to');
    expect(checkout.stderr).not.toContain('dbguard rollback   roll');
    const refused = r.dbguard(['rollback', '--yes']);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain('error[NO_DOWN_SQL] no down SQL for 5 (a Go migration, which dbguard cannot run)');
    expect(refused.stderr).toContain('dbguard reset');
    expect(await gooseRows(db)).toEqual(['0', '1', '2', '3', '4', '5', '6']);
  });
});
