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
