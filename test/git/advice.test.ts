/**
 * Issues 26.6 and 25.10: advice that leads nowhere, counts that are not true. The hook, check and
 * status propose only what will work: when a rollback would refuse (a phantom with no down SQL found
 * anywhere, one with no Down section that changed the schema) they say why and give the refusal's own
 * fix; counts of down SQL count real down SQL; a no-op step says so when it runs, as its dry run does.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaVersion, urlFor } from '../helpers/db.js';
import { base, GitRepo } from '../helpers/git.js';
import { gooseUp } from '../helpers/goose.js';

let repo: GitRepo | undefined;
afterEach(() => repo?.cleanup());

const USERS = '00001_create_users.sql';
const AUDIT = '00002_create_audit.sql';
const BACKFILL = '00003_backfill_names.sql';

const GOOSE_FILES: Record<string, string> = {
  [USERS]: '-- +goose Up\nCREATE TABLE users (id bigserial PRIMARY KEY, name text);\n\n-- +goose Down\nDROP TABLE users;\n',
  // As in the real history: no Down section at all.
  [AUDIT]: '-- +goose Up\nCREATE TABLE audit (id bigserial PRIMARY KEY, note text);\n',
  [BACKFILL]: "-- +goose Up\nUPDATE users SET name = 'n/a' WHERE name IS NULL;\n",
};
const pick = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, GOOSE_FILES[n] as string]));

describe('advice that leads nowhere, counts that are not true', () => {
  it('goose, a migration with no Down section that changed the schema: no one proposes a rollback that refuses; counts count real down SQL; no-ops say so when they run', async () => {
    const db = await createDatabase();
    repo = GitRepo.create({ nodeModules: false });
    const r = repo;
    r.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, format: 'goose' }));
    r.commitMigrations(pick([USERS]), 'users');
    expect(r.dbguard(['hooks', 'install']).status).toBe(0);
    r.git('checkout', '-q', '-b', 'audit');
    r.commitMigrations(pick([USERS, AUDIT, BACKFILL]), 'audit');
    // The app's goose applies them; dbguard capture records what it did.
    expect(await gooseUp(db, join(r.root, 'migrations'))).toEqual(['1', '2', '3']);
    const captured = r.dbguard(['capture']);
    expect(captured.status, captured.stderr).toBe(0);
    expect(captured.stdout).toContain('recorded 3 migrations, 2 without down SQL');
    expect(captured.stdout).not.toContain('captured down SQL for 3');
    expect(captured.stderr).toContain('2 has no Down section and changed the schema: a rollback through it refuses (IRREVERSIBLE)');
    expect(captured.stderr).toContain('3 has no Down section and changed data only');
    const status = r.dbguard(['status']);
    expect(status.stdout).toContain('cache        3 applied, 2 without down SQL');
    expect(status.stdout).not.toContain('all down SQL captured');

    const checkout = r.git('checkout', 'main');
    expect(checkout.stderr).toContain('this branch lacks 2 migrations the database has applied: 3, 2');
    expect(checkout.stderr).not.toContain('dbguard rollback   roll');
    expect(checkout.stderr).toContain('rollback would refuse (IRREVERSIBLE): 2 has no Down section but changed the schema');
    expect(checkout.stderr).toContain('next: dbguard rollback --keep-irreversible');
    for (const args of [['check'], ['check', '--offline']]) {
      const check = r.dbguard(args);
      expect(check.status).toBe(1);
      expect(check.stdout).not.toContain('next: dbguard rollback   (or');
      expect(check.stdout).toContain('rollback would refuse (IRREVERSIBLE): 2 has no Down section');
      expect(check.stdout).toContain('next: dbguard rollback --keep-irreversible');
    }
    const refused = r.dbguard(['rollback', '--yes']);
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain('error[IRREVERSIBLE] 2 has no Down section but changed the schema');
    expect(refused.stderr).not.toContain('empty down file');

    // Run, each no-op step says what it is, as the dry run does.
    const dry = r.dbguard(['rollback', '--dry-run', '--keep-irreversible']);
    expect(dry.stdout).toContain('3  00003_backfill_names.sql  no-op  (data changes kept)');
    const rolled = r.dbguard(['rollback', '--yes', '--keep-irreversible']);
    expect(rolled.status, rolled.stderr).toBe(0);
    expect(rolled.stdout).toMatch(/✓ 3 {2}00003_backfill_names\.sql {2}\d+ ms {2}\(no-op: data changes kept\)/);
    expect(rolled.stdout).toMatch(/✓ 2 {2}00002_create_audit\.sql {2}\d+ ms {2}\(no-op: schema left behind \(--keep-irreversible\)\)/);
    expect((await query<{ v: string }>(db, 'SELECT version_id::text AS v FROM goose_db_version ORDER BY id')).map((row) => row.v)).toEqual(['0', '1']);
  });

  it('25.10: a phantom whose down SQL the hook already looked for everywhere is not offered a rollback that says NO_DOWN_SQL', async () => {
    const db = await createDatabase();
    repo = GitRepo.create();
    const r = repo;
    r.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    r.commitMigrations(base, 'base');
    expect(r.dbguard(['hooks', 'install']).status).toBe(0);
    r.git('checkout', '-q', '-b', 'a');
    // 446 is applied without a down file, and none is ever committed.
    r.commitMigrations({ ...base, '446_add.up.sql': 'CREATE TABLE a_one (id int);' }, 'a: 446 up only');
    expect(r.dbguard(['migrate']).status).toBe(0);
    expect(r.dbguard(['status']).stdout).toContain('1 without down SQL');

    const checkout = r.git('checkout', 'main');
    expect(checkout.stderr).toContain('this branch lacks 1 migration the database has applied: 446');
    expect(checkout.stderr).not.toContain('dbguard rollback   roll');
    expect(checkout.stderr).toContain('rollback would refuse (NO_DOWN_SQL): no down SQL for 446 (no down file)');
    expect(checkout.stderr).toContain('next: dbguard status   (restore the down files in git, then dbguard rollback)');
    const check = r.dbguard(['check', '--offline']);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('rollback would refuse (NO_DOWN_SQL)');
    expect(check.stdout).not.toContain('next: dbguard rollback   (or');
    const rollback = r.dbguard(['rollback', '--yes']);
    expect(rollback.status).toBe(3);
    expect(rollback.stderr).toContain('error[NO_DOWN_SQL] no down SQL for 446 (no down file)');
    expect(await schemaVersion(db)).toEqual({ version: '446', dirty: false });
  });
});
