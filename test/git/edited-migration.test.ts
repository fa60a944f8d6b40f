/**
 * Issue 25.8: an applied migration whose up file was edited since (§2) has a way out. `migrate --reapply
 * <version>` rolls it back with the down SQL stored when it was applied (and what is applied above it),
 * then applies the edited file (and those above) again: a plan (--dry-run, --json), a snapshot first,
 * the rows its downs drop kept and put back. check and status propose exactly that command, and
 * `capture --accept-edits` only for a database that already matches the edit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { query, schemaSnapshot, schemaVersion } from '../helpers/db.js';
import { freshSchemaOf, GitRepo, repoOnNewDatabase } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

const applied = {
  '1_users.up.sql': 'CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);',
  '1_users.down.sql': 'DROP TABLE users;',
  '2_tags.up.sql': 'CREATE TABLE tags (id serial PRIMARY KEY, label text);',
  '2_tags.down.sql': 'DROP TABLE tags;',
  '3_weight.up.sql': 'ALTER TABLE tags ADD COLUMN weight int;',
  '3_weight.down.sql': 'ALTER TABLE tags DROP COLUMN weight;',
};
// The edit: the table gains a colour, and its down file drops it by another name (the stored one must run).
const edited = {
  ...applied,
  '2_tags.up.sql': "CREATE TABLE labels_tmp (id int); DROP TABLE labels_tmp; CREATE TABLE tags (id serial PRIMARY KEY, label text, colour text NOT NULL DEFAULT 'grey');",
  '2_tags.down.sql': 'DROP TABLE IF EXISTS tags;',
};

async function editedProject(): Promise<{ repo: GitRepo; db: string }> {
  const { repo, db } = await repoOnNewDatabase(repos, applied, '1-3');
  expect(repo.dbguard(['migrate']).status).toBe(0);
  await query(db, "INSERT INTO tags (label, weight) VALUES ('red', 1), ('blue', 2)");
  repo.commitMigrations(edited, 'edit 2 in place');
  return { repo, db };
}


describe('an edited applied migration (issue 25.8)', () => {
  it('check and status propose migrate --reapply; it rolls 2 back with its stored down, applies the edit, keeps the rows', async () => {
    const { repo, db } = await editedProject();

    const check = repo.dbguard(['check']);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('edited since applied');
    expect(check.stdout).toContain('dbguard migrate --reapply 2');
    expect(check.stdout).toContain('if the database already matches the edited file: dbguard capture --accept-edits');
    expect(check.stdout).not.toContain('dbguard rollback');
    const status = repo.dbguard(['status', '--json']);
    expect(status.status).toBe(1);
    expect(JSON.parse(status.stdout).next).toMatch(/^dbguard migrate --reapply 2\b/);
    expect(repo.dbguard(['status']).stdout).toContain('dbguard capture --accept-edits if the database already matches the edited file');
    // rollback has nothing to undo here, and says which command does (it said only "nothing to roll back").
    const rollback = repo.dbguard(['rollback', '--yes']);
    expect(rollback.status, rollback.stderr).toBe(0);
    expect(rollback.stdout).toContain('nothing to roll back');
    expect(rollback.stdout).toContain('edited since applied: 2_tags.up.sql: dbguard migrate --reapply 2');

    const before = await schemaSnapshot(db);
    const dry = repo.dbguard(['migrate', '--reapply', '2', '--dry-run', '--json']);
    expect(dry.status, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).reapply.steps.map((s: { kind: string; version: string }) => `${s.kind} ${s.version}`))
      .toEqual(['down 3', 'down 2', 'up 2', 'up 3']);
    expect(JSON.parse(dry.stdout).reapply.steps[1].sql).toBe('DROP TABLE tags;'); // the stored down, not the file's
    const dryText = repo.dbguard(['migrate', '--reapply', '2', '--dry-run']).stdout;
    expect(dryText).toContain('would roll back 3, 2 with the down SQL stored when they were applied, then apply 2 (edited since applied), 3 from the files');
    // What the downs drop is counted, as rollback --dry-run counts it, and said to come back with the ups (adversarial pass).
    expect(dryText).toContain(['  down  3  3_weight.up.sql', '        drops 2 values of public.tags.weight (kept in the stash; its up puts them back)'].join('\n'));
    expect(dryText).toContain(['  down  2  2_tags.up.sql', '        drops 2 rows of public.tags (kept in the stash; its up puts them back)'].join('\n'));
    expect(JSON.parse(dry.stdout).reapply.steps[0].wouldDrop).toEqual([{ object: 'column public.tags.weight', rows: 2 }]);
    expect(await schemaSnapshot(db)).toEqual(before);

    const reapplied = repo.dbguard(['migrate', '--reapply', '2']);
    expect(reapplied.status, reapplied.stderr).toBe(0);
    expect(reapplied.stdout).toMatch(/snapshot replay-\d{8}-\d{6} taken first \(undo: dbguard undo\)/);
    expect(reapplied.stdout).toContain('re-applied 2 (edited since applied), 3; database at 3');
    expect(reapplied.stderr).not.toContain('warning');
    expect(await schemaVersion(db)).toEqual({ version: '3', dirty: false });
    expect(await schemaSnapshot(db)).toEqual(await freshSchemaOf(repos, edited));
    expect(await query(db, 'SELECT label, weight, colour FROM tags ORDER BY id')).toEqual([
      { label: 'red', weight: 1, colour: 'grey' }, { label: 'blue', weight: 2, colour: 'grey' },
    ]);
    expect(await query(db, "SELECT down_sql FROM _dbguard.applied_migrations WHERE version = 2")).toEqual([{ down_sql: 'DROP TABLE IF EXISTS tags;' }]);
    const after = repo.dbguard(['check']);
    expect([after.status, after.stdout]).toEqual([0, expect.not.stringContaining('edited')]);
    expect(JSON.parse(repo.dbguard(['status', '--json']).stdout)).toMatchObject({ edited: [], next: null });
    expect(JSON.parse(repo.dbguard(['stash', 'list', '--json']).stdout).entries ?? []).toEqual([]);
  });

  it('refuses, changing nothing, a version that is not applied or has no stored down SQL', async () => {
    const { repo, db } = await editedProject();
    await query(db, 'UPDATE _dbguard.applied_migrations SET down_sql = NULL WHERE version = 3');
    const before = await schemaSnapshot(db);
    const lacking = repo.dbguard(['migrate', '--reapply', '2']);
    expect(lacking.status).toBe(3);
    expect(lacking.stderr).toContain('error[NO_DOWN_SQL]');
    expect(lacking.stderr).toContain('3');
    const notApplied = repo.dbguard(['migrate', '--reapply', '7']);
    expect(notApplied.status).toBe(2);
    expect(notApplied.stderr).toContain('7 is not applied');
    expect(await schemaSnapshot(db)).toEqual(before);
    expect(await schemaVersion(db)).toEqual({ version: '3', dirty: false });
  });
});
