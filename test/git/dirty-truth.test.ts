/**
 * Issue 25, items 4 and 6: a dirty database (a migration only half applied, golang-migrate's flag) is
 * never called clean or applied — not by `check`, not from the cache, not by `dbguard run`'s capture.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaVersion, urlFor } from '../helpers/db.js';
import { base, GitRepo } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

async function repoWithDb(): Promise<{ repo: GitRepo; db: string }> {
  const db = await createDatabase();
  const repo = GitRepo.create();
  repos.push(repo);
  repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
  repo.commitMigrations(base, 'base');
  expect(repo.dbguard(['migrate']).status).toBe(0);
  return { repo, db };
}

describe('check: a dirty database is not clean (issue 25.4)', () => {
  it('exit 3 like status, ok:false, names the version and force; offline too, until force clears it', async () => {
    const { repo, db } = await repoWithDb();
    expect(repo.dbguard(['check']).status).toBe(0);
    // What the app's migrator leaves when 445's re-run failed half way (golang-migrate's flag).
    await query(db, 'UPDATE schema_migrations SET dirty = true');
    expect(repo.dbguard(['status']).status).toBe(3);

    const check = repo.dbguard(['check']);
    expect(check.status).toBe(3);
    expect(check.stdout).not.toContain('clean');
    expect(check.stdout).toContain('dirty: the database is dirty at version 445: a migration was only half applied');
    expect(check.stdout).toContain('next: dbguard force 445   (after repairing what it left half done; dbguard status names it)');
    const json = JSON.parse(repo.dbguard(['check', '--json']).stdout);
    expect(json).toMatchObject({ ok: false, checkedDatabase: true, dirty: '445' });

    // The cache keeps what the database said: an offline check (or a stopped server) does not say clean.
    const offline = repo.dbguard(['check', '--offline']);
    expect(offline.status).toBe(3);
    expect(offline.stdout).toContain('dirty: the database was dirty at version 445 when dbguard last asked it');
    expect(JSON.parse(repo.dbguard(['check', '--offline', '--json']).stdout)).toMatchObject({ ok: false, checkedDatabase: false, dirty: '445' });

    expect(repo.dbguard(['force', '445']).status).toBe(0);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
    expect(repo.dbguard(['check', '--offline']).status).toBe(0);
    expect(repo.dbguard(['check']).status).toBe(0);
  });

  it('a migrate whose step failed outside a transaction leaves the cache saying dirty, so check --offline does too', async () => {
    const { repo } = await repoWithDb();
    repo.commitMigrations({ ...base, '446_half.up.sql': '-- dbguard:no-transaction\nCREATE TABLE half (id int);\nSELECT 1/0;', '446_half.down.sql': 'DROP TABLE half;' }, '446');
    const migrate = repo.dbguard(['migrate']);
    expect(migrate.status).toBe(4);
    expect(migrate.stderr).toContain('the database is dirty at version 446');
    const offline = repo.dbguard(['check', '--offline']);
    expect(offline.status).toBe(3);
    expect(offline.stdout).toContain('dirty: the database was dirty at version 446 when dbguard last asked it');
    expect(offline.stdout).toContain('next: dbguard force 446');
  });

  it('a lost cache: check asks the database and says dirty (exit 3)', async () => {
    const { repo, db } = await repoWithDb();
    await query(db, 'UPDATE schema_migrations SET dirty = true');
    rmSync(join(repo.root, '.dbguard'), { recursive: true, force: true });
    const check = repo.dbguard(['check']);
    expect(check.status).toBe(3);
    expect(check.stdout).toContain('dirty at version 445');
  });
});
