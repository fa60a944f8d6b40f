/**
 * Issue 12 end to end: real git, real hooks with onConflict "rollback", real Postgres. A → B → A loses
 * no row: the hook's rollback keeps the rows, migrate puts them back, and each rollback can be undone.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaVersion, urlFor } from '../helpers/db.js';
import { branchedRepo, GitRepo } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

const rowsOf = async (db: string, table: string, column = 'note') => (await query<{ id: number; note: string }>(db, `SELECT id, ${column} AS note FROM ${table} ORDER BY id`)).map((r) => `${r.id}:${r.note}`);

describe('A → B → A with the hook rolling back', () => {
  it('brings back every row of A\'s tables, keeps the rows added on B, and the same for B\'s on the way back', async () => {
    const { repo, db } = await branchedRepo({ onConflict: 'rollback' });
    repos.push(repo);
    await query(db, `INSERT INTO chat (note) SELECT 'chat on a ' || g FROM generate_series(1, 20) g;
      INSERT INTO a_one (note) SELECT 'a1 ' || g FROM generate_series(1, 30) g;
      INSERT INTO a_two (note) SELECT 'a2 ' || g FROM generate_series(1, 40) g;`);
    const onA = { chat: await rowsOf(db, 'chat'), aOne: await rowsOf(db, 'a_one'), aTwo: await rowsOf(db, 'a_two') };

    const toB = repo.git('checkout', 'b');
    expect(toB.status).toBe(0);
    expect(toB.stderr).toContain('rolled back 2 migrations; database at 445');
    expect(toB.stderr).toContain('kept 40 rows of public.a_two, 30 rows of public.a_one in the stash');
    expect(toB.stderr).toMatch(/undo: dbguard undo {3}\(snapshot rollback-/);
    expect(repo.dbguard(['status']).stdout).toMatch(/stash +2 kept \([\d.]+ kB\) for 447, 446: back when applied again/);
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await query(db, `INSERT INTO chat (note) VALUES ('chat on b'); INSERT INTO b_only (note) SELECT 'b ' || g FROM generate_series(1, 5) g;`);
    const bOnly = await rowsOf(db, 'b_only');

    const toA = repo.git('checkout', 'a');
    expect(toA.stderr).toContain('kept 5 rows of public.b_only in the stash');
    const migrated = repo.dbguard(['migrate']);
    expect(migrated.status).toBe(0);
    expect(migrated.stdout).toContain('stash: table public.a_one: 30 of 30 rows put back');
    expect(migrated.stdout).toContain('stash: table public.a_two: 40 of 40 rows put back');
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
    expect(await rowsOf(db, 'a_one')).toEqual(onA.aOne);
    expect(await rowsOf(db, 'a_two')).toEqual(onA.aTwo);
    expect(await rowsOf(db, 'chat')).toEqual([...onA.chat, '21:chat on b']);

    // And back to B: its rows were kept too; A's stash is the one the hook just made on the way.
    repo.git('checkout', 'b');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await rowsOf(db, 'b_only')).toEqual(bOnly);
    const listed = repo.dbguard(['stash', 'list']);
    expect(listed.stdout).toMatch(/447 +table public\.a_two +40 rows/);
    expect(JSON.parse(repo.dbguard(['stash', 'list', '--json']).stdout)).toMatchObject({ ok: true, entries: [{ version: '447', object: 'public.a_two' }, { version: '446', object: 'public.a_one' }].map((e) => expect.objectContaining(e)) });
  });

  it('stash drop: one entry, then all; a wrong id changes nothing', async () => {
    const { repo, db } = await branchedRepo({ onConflict: 'rollback' });
    repos.push(repo);
    await query(db, "INSERT INTO a_one (note) VALUES ('x'); INSERT INTO a_two (note) VALUES ('y')");
    repo.git('checkout', 'b');
    const ids = (JSON.parse(repo.dbguard(['stash', 'list', '--json']).stdout) as { entries: Array<{ id: number }> }).entries.map((e) => e.id);
    expect(ids).toHaveLength(2);
    const wrong = repo.dbguard(['stash', 'drop', '999']);
    expect([wrong.status, wrong.stderr]).toEqual([2, expect.stringContaining('STASH_NOT_FOUND')]);
    expect(repo.dbguard(['stash', 'drop', 'seven']).stderr).toContain('error[USAGE]');
    expect(repo.dbguard(['stash', 'drop', String(ids[0])]).stdout).toContain('dropped 1 stash entry');
    expect(await query(db, `SELECT to_regclass('_dbguard.stash_data_${ids[0]}') AS t`)).toEqual([{ t: null }]);
    expect(repo.dbguard(['stash', 'drop', 'all']).stdout).toContain('dropped 1 stash entry');
    expect(repo.dbguard(['stash', 'list']).stdout).toContain('the stash is empty');
    // Nothing to restore now: A's tables come back empty.
    repo.git('checkout', 'a');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await query(db, 'SELECT count(*)::int AS n FROM a_one')).toEqual([{ n: 0 }]);
  });

  it('rollback --dry-run shows the rows each step would drop; undo after the hook\'s rollback puts the database back', async () => {
    const { repo, db } = await branchedRepo({ onConflict: 'warn' });
    repos.push(repo);
    await query(db, "INSERT INTO a_one (note) SELECT 'a1 ' || g FROM generate_series(1, 7) g");
    repo.git('checkout', 'b');
    const dry = repo.dbguard(['rollback', '--dry-run']);
    expect(dry.stdout).toMatch(/446 +446_create_a_one\.up\.sql.*\n +drops 7 rows of public\.a_one/);
    const planned = JSON.parse(repo.dbguard(['rollback', '--dry-run', '--json']).stdout) as { plan: { steps: Array<{ version: string; wouldDrop: unknown }> } };
    expect(planned.plan.steps.map((s) => [s.version, s.wouldDrop])).toEqual([['447', []], ['446', [{ object: 'table public.a_one', rows: 7 }]]]);
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false }); // counting changed nothing
    expect(repo.dbguard(['rollback', '--yes']).status).toBe(0);
    expect(repo.dbguard(['undo']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
    expect(await rowsOf(db, 'a_one')).toHaveLength(7);
    expect(repo.dbguard(['check']).status).toBe(1); // the branch still lacks them: the database is as before the rollback
  });
});

describe('two stash entries of one version (issue 25.2)', () => {
  const APP = resolve(import.meta.dirname, '..', 'fixtures', 'go-style-app.mjs');
  const main = { '1_users.up.sql': "CREATE TABLE users (id serial PRIMARY KEY, name text); INSERT INTO users (name) VALUES ('ann');", '1_users.down.sql': 'DROP TABLE users;' };

  /**
   * main has 1; feature adds 5. dbguard migrates feature, `first` runs, a rollback stashes; then twice:
   * the app applies 5 alone (nobody captures), `between` runs, and a rollback stashes again. The app
   * applies 5 a last time and `dbguard capture` finds it applied: both entries go back.
   */
  async function stashedTwice(five: Record<string, string>, first: string, between: string) {
    const db = await createDatabase();
    const repo = GitRepo.create();
    repos.push(repo);
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, snapshots: false }));
    repo.commitMigrations(main, 'main');
    repo.git('checkout', '-q', '-b', 'feature');
    repo.commitMigrations({ ...main, ...five }, 'feature');
    const app = () => {
      const ran = spawnSync(process.execPath, [APP, 'migrations'], { cwd: repo.root, encoding: 'utf8', env: { ...process.env, DATABASE_URL: urlFor(db), APP_EXIT_AFTER_MIGRATE: '1' } });
      expect(ran.status, ran.stderr).toBe(0);
    };
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await query(db, first);
    repo.git('checkout', '-q', 'main');
    expect(repo.dbguard(['rollback', '--yes']).stdout).toContain('in the stash');
    repo.git('checkout', '-q', 'feature');
    app();
    await query(db, between);
    repo.git('checkout', '-q', 'main');
    expect(repo.dbguard(['rollback', '--yes']).stdout).toContain('in the stash');
    repo.git('checkout', '-q', 'feature');
    app();
    const captured = repo.dbguard(['capture']);
    expect(captured.status, captured.stderr).toBe(0);
    const left = (JSON.parse(repo.dbguard(['stash', 'list', '--json']).stdout) as { entries: Array<{ id: number; rows: number }> }).entries;
    return { db, repo, captured, left };
  }

  it('a row whose key clashes with one the other entry put back stays in the stash and is reported; c1 is not lost', async () => {
    const { db, repo, captured, left } = await stashedTwice({
      '5_comments.up.sql': "CREATE TABLE comments (id serial PRIMARY KEY, body text NOT NULL); INSERT INTO comments (body) VALUES ('seed');",
      '5_comments.down.sql': 'DROP TABLE comments;',
    }, "INSERT INTO comments (body) VALUES ('c1'), ('c2')", "INSERT INTO comments (body) VALUES ('new')");
    expect(await rowsOf(db, 'comments', 'body')).toEqual(['1:seed', '2:c1', '3:c2']);
    // capture keeps any row under a stashed key (the app may have written it since the up): the clash stays in the
    // stash, said to be with the row stash 1 put back, not one of yours (adversarial pass).
    expect(captured.stdout).toContain('stash: table public.comments: 0 of 2 rows put back; 1 already there (the same row); 1 stay in stash 2: another stash entry put back a different row under the same key (kept)');
    expect(left.map((e) => [e.id, e.rows])).toEqual([[2, 1]]);
    expect(await query(db, 'SELECT id, body FROM _dbguard.stash_data_2')).toEqual([{ id: '2', body: 'new' }]);
    // migrate --reapply 5 would try that entry again with 5's up: its dry run counts it (adversarial pass).
    const dry = repo.dbguard(['migrate', '--reapply', '5', '--dry-run']);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('        drops 3 rows of public.comments (kept in the stash; its up puts them back)');
    expect(dry.stdout).toContain('        and tries stash 2 again (1 row of public.comments, kept before)');
    expect(JSON.parse(repo.dbguard(['migrate', '--reapply', '5', '--dry-run', '--json']).stdout).reapply.steps[1].stashTriedAgain).toMatchObject([{ id: 2, rows: 1 }]);
  });

  it('the same for a dropped column: a value another entry put back is kept, the other one stays in the stash', async () => {
    const { db, captured, left } = await stashedTwice({
      '5_nick.up.sql': 'ALTER TABLE users ADD COLUMN nick text;',
      '5_nick.down.sql': 'ALTER TABLE users DROP COLUMN nick;',
    }, "UPDATE users SET nick = 'first'", "UPDATE users SET nick = 'second'");
    expect(await query(db, 'SELECT id, nick FROM users')).toEqual([{ id: 1, nick: 'first' }]);
    // capture keeps any value already there (the app may have written it since the up).
    expect(captured.stdout).toContain('1 stay in stash 2: another stash entry put back a different value there (kept)');
    expect(captured.stdout).not.toContain('yours');
    expect(left.map((e) => [e.id, e.rows])).toEqual([[2, 1]]);
    expect(await query(db, 'SELECT id, nick FROM _dbguard.stash_data_2')).toEqual([{ id: '1', nick: 'second' }]);
  });
});
