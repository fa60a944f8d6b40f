/**
 * A database for every branch (issue 29, DESIGN §17): real git, the built CLI through the hooks, the
 * suite's server. Each branch's database is switched in by two renames, exactly as the branch left it.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { savedBranchDatabaseName } from '../../src/core/kept-database.js';
import { query, schemaSnapshot, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { GitRepo, repoOnNewDatabase } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

const one = tableMigration(1, 'one');
/** B's migration: a table and its rows, with an EMPTY down file (no way back by rollback). */
const feat = {
  ...one,
  '2_feat.up.sql': "CREATE TABLE feat_t (id serial PRIMARY KEY, v text); INSERT INTO feat_t (v) VALUES ('seeded');",
  '2_feat.down.sql': '',
};

const notes = async (db: string) => (await query<{ note: string }>(db, 'SELECT note FROM one ORDER BY id')).map((r) => r.note);
const exists = async (db: string) => (await query('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [db])).length === 1;

/** main with migration 1 applied and a row of its own; hooks installed; branch databases on. */
async function mainWithRows(config: Record<string, unknown> = { branchDatabases: true }): Promise<{ repo: GitRepo; db: string }> {
  const { repo, db } = await repoOnNewDatabase(repos, one, 'main', config);
  expect(repo.dbguard(['hooks', 'install']).status).toBe(0);
  expect(repo.dbguard(['migrate']).status).toBe(0);
  await query(db, "INSERT INTO one (note) VALUES ('main row')");
  return { repo, db };
}

describe('A → B → A: each branch\'s database exactly as it left it', () => {
  it('with B\'s migration having an EMPTY down: main\'s rows and schema come back, then B\'s', async () => {
    const { repo, db } = await mainWithRows();
    const mainSchema = await schemaSnapshot(db);
    repo.git('checkout', '-q', '-b', 'feat');
    repo.commitMigrations(feat, 'feat');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await query(db, "INSERT INTO one (note) VALUES ('feat row')");
    await query(db, "INSERT INTO feat_t (v) VALUES ('feat data')");
    const featSchema = await schemaSnapshot(db);

    const toMain = repo.git('checkout', 'main');
    expect(toMain.stderr).toContain(`"${db}" is now main's database, as main left it`);
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
    expect(await notes(db)).toEqual(['main row']);
    expect(await schemaSnapshot(db)).toEqual(mainSchema);
    const status = repo.dbguard(['status']);
    expect(status.status, status.stdout + status.stderr).toBe(0);
    // Switching back is the undo: nothing to restore.
    const undo = repo.dbguard(['undo']);
    expect(undo.stderr).toContain('error[UNDO_NOT_NEEDED] undo is not needed after a branch switch');
    expect(undo.status).toBe(3);

    const toFeat = repo.git('checkout', 'feat');
    expect(toFeat.stderr).toContain(`"${db}" is now feat's database, as feat left it`);
    expect(await schemaVersion(db)).toEqual({ version: '2', dirty: false });
    expect(await notes(db)).toEqual(['main row', 'feat row']);
    expect((await query<{ v: string }>(db, 'SELECT v FROM feat_t ORDER BY id')).map((r) => r.v)).toEqual(['seeded', 'feat data']);
    expect(await schemaSnapshot(db)).toEqual(featSchema);
    expect(await exists(savedBranchDatabaseName(db, 'main'))).toBe(true);
    expect(await exists(savedBranchDatabaseName(db, 'feat'))).toBe(false);
    expect(repo.dbguard(['status']).status).toBe(0);
  });

  it('without it, the rollback\'s refusal of the empty down names "branchDatabases": true', async () => {
    const { repo } = await mainWithRows({});
    repo.git('checkout', '-q', '-b', 'feat');
    repo.commitMigrations(feat, 'feat');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', 'main');
    const rollback = repo.dbguard(['rollback', '--yes']);
    expect(rollback.status).toBe(3);
    expect(rollback.stderr).toContain('error[IRREVERSIBLE]');
    expect(rollback.stderr).toContain('"branchDatabases": true in dbguard.config.json gives each branch its own database');
  });
});

describe('a branch with no saved database', () => {
  it('starts as a copy of the one left, brought in step by the rollback engine in the copy', async () => {
    const { repo, db } = await mainWithRows();
    repo.git('checkout', '-q', '-b', 'ahead');
    repo.commitMigrations({ ...one, ...tableMigration(2, 'two') }, 'ahead');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await query(db, "INSERT INTO two (note) VALUES ('ahead row')");
    const fix = repo.git('checkout', '-b', 'fix', 'main');
    expect(fix.stderr).toContain(`fix had no database of its own: "${db}" is now a copy of ahead's`);
    expect(fix.stderr).toContain('brought in step with fix: rolled back 2 in the copy; database at 1');
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
    expect(await query(db, "SELECT 1 FROM pg_tables WHERE tablename = 'two'")).toEqual([]);
    expect(await notes(db)).toEqual(['main row']);
    const kept = savedBranchDatabaseName(db, 'ahead');
    expect(await schemaVersion(kept)).toEqual({ version: '2', dirty: false });
    expect(await query(kept, 'SELECT note FROM two')).toEqual([{ note: 'ahead row' }]);
    expect(repo.dbguard(['status']).status).toBe(0);
  });

  it('a copy that needs down SQL it lacks is left as it is, and the hook names what the branch lacks', async () => {
    const { repo, db } = await mainWithRows();
    repo.git('checkout', '-q', '-b', 'feat');
    repo.commitMigrations(feat, 'feat');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    const fix = repo.git('checkout', '-b', 'fix', 'main');
    expect(fix.stderr).toContain('fix lacks 2, which the copy has applied; left as it is (IRREVERSIBLE');
    // They are on: the advice does not tell the user to turn them on.
    expect(fix.stderr).toContain('next: dbguard rollback --keep-irreversible');
    expect(fix.stderr).not.toContain('"branchDatabases": true');
    expect(await schemaVersion(db)).toEqual({ version: '2', dirty: false });
    expect(await schemaVersion(savedBranchDatabaseName(db, 'feat'))).toEqual({ version: '2', dirty: false });
  });
});

describe('only branch checkouts switch', () => {
  it('a rebase and a bisect never switch; a detached HEAD in between does not lose track', async () => {
    const { repo, db } = await mainWithRows();
    repo.git('checkout', '-q', '-b', 'feat');
    repo.commitMigrations(feat, 'feat');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    await query(db, "INSERT INTO one (note) VALUES ('feat row')");
    repo.git('checkout', '-q', 'main');
    repo.commitFile('NOTES.md', 'main moves on', 'main notes');
    repo.git('checkout', '-q', 'feat');
    expect(await notes(db)).toEqual(['main row', 'feat row']);
    const mainSaved = savedBranchDatabaseName(db, 'main');
    const mainSavedOid = await query(mainSaved, 'SELECT oid FROM pg_database WHERE datname = current_database()');

    const rebase = repo.git('rebase', 'main');
    expect(rebase.status, rebase.stderr).toBe(0);
    expect(rebase.stderr).not.toContain('is now');
    expect(await notes(db)).toEqual(['main row', 'feat row']);

    repo.commitFile('FEAT.md', 'one more', 'feat two');
    const started = repo.git('bisect', 'start', 'HEAD', 'main');
    expect(started.stderr).not.toContain('is now');
    expect(repo.git('bisect', 'good').stderr).not.toContain('is now');
    expect(repo.git('bisect', 'reset').stderr).not.toContain('is now');
    expect(await notes(db)).toEqual(['main row', 'feat row']);

    repo.git('checkout', '-q', '--detach');
    repo.git('checkout', '-q', 'main'); // from a detached HEAD: the database is still feat's, so it switches
    expect(await notes(db)).toEqual(['main row']);
    // main's own database came back (the one saved before the rebase), not a copy.
    expect(await query(db, 'SELECT oid FROM pg_database WHERE datname = current_database()')).toEqual(mainSavedOid);
  });
});

describe('branch names', () => {
  it('with /, unicode and 200 characters each get a database of their own', async () => {
    const { repo, db } = await mainWithRows();
    const long = `feature/ünïcødé-日本-${'x'.repeat(200)}`.slice(0, 200);
    for (const [branch, row] of [['team/a', 'a row'], [long, 'long row']] as const) {
      repo.git('checkout', '-q', '-b', branch);
      await query(db, `INSERT INTO one (note) VALUES ('${row}')`);
    }
    repo.git('checkout', '-q', 'team/a');
    expect(await notes(db)).toEqual(['main row', 'a row']);
    repo.git('checkout', '-q', long);
    expect(await notes(db)).toEqual(['main row', 'a row', 'long row']); // it started as a copy of team/a's
    repo.git('checkout', '-q', 'main');
    expect(await notes(db)).toEqual(['main row']);
    for (const branch of ['team/a', long]) {
      const name = savedBranchDatabaseName(db, branch);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
      expect(await exists(name)).toBe(true);
    }
  });
});

describe('"branchDatabases": { "keep": N }', () => {
  it('drops the least recently used saved database beyond N after a switch, never the current one', async () => {
    const { repo, db } = await mainWithRows({ branchDatabases: { keep: 1 } });
    repo.git('checkout', '-q', '-b', 'a');
    const toB = repo.git('checkout', '-b', 'b');
    expect(toB.stderr).toContain('dropped the saved databases of main ("branchDatabases": { "keep": 1 })');
    expect(await exists(savedBranchDatabaseName(db, 'main'))).toBe(false);
    expect(await exists(savedBranchDatabaseName(db, 'a'))).toBe(true);
    expect(await notes(db)).toEqual(['main row']);
  });
});

describe('the app connected', () => {
  it('a pool-based app keeps answering through the switch and reads B\'s rows after', async () => {
    const { repo, db } = await mainWithRows();
    repo.git('checkout', '-q', '-b', 'feat');
    await query(db, "INSERT INTO one (note) VALUES ('feat row')");
    repo.git('checkout', '-q', 'main');
    expect(await notes(db)).toEqual(['main row']);
    const app = spawn(process.execPath, [resolve(import.meta.dirname, '..', 'fixtures', 'pool-app.mjs')], { env: { ...process.env, DATABASE_URL: urlFor(db) }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    app.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      await until(() => out.includes('"notes":["main row"]'));
      const toFeat = repo.git('checkout', 'feat');
      expect(toFeat.stderr).toContain(`is now feat's database`);
      expect(toFeat.stderr).toMatch(new RegExp(`ended \\d sessions? of "${db}" for the switch .*; a pool reconnects, now to feat's database`));
      const mark = out.length;
      await until(() => out.slice(mark).includes('"notes":["main row","feat row"]'));
      expect(app.exitCode).toBeNull();
    } finally {
      app.kill('SIGTERM');
    }
  });
});

describe('a switch killed between its two renames', () => {
  it('leaves both databases intact; the next command opens it again and the next checkout finishes the switch', async () => {
    const { repo, db } = await mainWithRows();
    repo.git('checkout', '-q', '-b', 'feat');
    await query(db, "INSERT INTO one (note) VALUES ('feat row')");
    repo.git('checkout', '-q', 'main');
    const checkout = spawn('git', ['checkout', 'feat'], { cwd: repo.root, env: { PATH: process.env.PATH, HOME: process.env.HOME, GIT_CONFIG_NOSYSTEM: '1', DBGUARD_TEST_PAUSE_BETWEEN_RENAMES: '60000' } });
    let err = '';
    checkout.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    await until(() => /test pause between the renames \(pid \d+\)/.test(err));
    process.kill(Number(/\(pid (\d+)\)/.exec(err)?.[1]), 'SIGKILL');
    await new Promise((done) => checkout.on('exit', done));
    // Nothing renamed: main's database under the worktree's name, feat's under its saved name.
    const names = await query<{ datname: string }>('postgres', 'SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY 1', [[db, savedBranchDatabaseName(db, 'feat'), savedBranchDatabaseName(db, 'main')]]);
    expect(names.map((n) => n.datname).sort()).toEqual([db, savedBranchDatabaseName(db, 'feat')].sort());
    expect(await notes(savedBranchDatabaseName(db, 'feat'))).toEqual(['main row', 'feat row']);
    const status = repo.dbguard(['status']);
    expect(status.status, status.stderr).toBe(0);
    expect(await notes(db)).toEqual(['main row']);
    const again = repo.git('checkout', 'feat');
    expect(again.stderr).toContain(`"${db}" is now feat's database, as feat left it`);
    expect(await notes(db)).toEqual(['main row', 'feat row']);
    expect(await notes(savedBranchDatabaseName(db, 'main'))).toEqual(['main row']);
  });
});

describe('a switch that did not finish', () => {
  it('the hook says why with a code and a next step, and status says the database is still the branch left\'s', async () => {
    const { repo, db } = await mainWithRows();
    // A time bound too short for the switch: it fails before its renames (the transaction commits both or none).
    const failed = repo.gitWith({ DBGUARD_HOOK_TIMEOUT_MS: '1' }, 'checkout', '-b', 'slow');
    expect(failed.status).toBe(0);
    expect(failed.stderr).toMatch(/dbguard: [A-Z_]+: .*\n {2}next: /);
    expect(failed.stderr).not.toContain('hook failed');
    expect(await notes(db)).toEqual(['main row']);
    const status = repo.dbguard(['status']);
    expect(status.stdout).toContain("this database is main's, not slow's: the switch did not finish");
    expect(status.stdout).toContain('git checkout slow again switches it');
    const again = repo.git('checkout', 'slow');
    expect(again.stderr).toContain(`"${db}" is now a copy of main's`);
    expect(repo.dbguard(['status']).stdout).not.toContain('the switch did not finish');
  });
});

async function until(test: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

