/**
 * Issue 9, items 15 and 19: when a rollback is cut short (Ctrl-C) or its record cannot be written,
 * the person is told where the database is and what to run, and the cache follows the database.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DbguardError } from '../../src/core/errors.js';
import { runRollback } from '../../src/engine/rollback.js';
import { withSession } from '../../src/engine/session.js';
import { databaseRef } from '../../src/engine/identity.js';
import { createDatabase, Project, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { migrate } from '../helpers/engine.js';
import { base, BIN, GitRepo } from '../helpers/git.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('interrupted and unrecordable rollbacks', () => {
  it('Ctrl-C during a rollback: exit 130, the version it stopped at, what to run; the cache follows', async () => {
    const db = await createDatabase();
    const repo = GitRepo.create();
    cleanups.push(() => repo.cleanup());
    repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) } }));
    repo.commitMigrations(base, 'base');
    repo.git('checkout', '-q', '-b', 'a');
    repo.commitMigrations({
      ...base, '446_slow.up.sql': 'CREATE TABLE a_one (id int);', '446_slow.down.sql': 'SELECT pg_sleep(30); DROP TABLE a_one;', ...tableMigration(447, 'a_two'),
    }, 'a');
    expect(repo.dbguard(['migrate']).status).toBe(0);
    repo.git('checkout', '-q', 'main');
    const child = spawn(process.execPath, [BIN, 'rollback', '--yes'], { cwd: repo.root, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' } });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('447')) setTimeout(() => child.kill('SIGINT'), 300); // 447 done, 446 sleeping
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(stderr).toContain('dbguard: interrupted; the step in progress was undone with its transaction; the database is at version 446 (clean)');
    expect(stderr).toContain('next: dbguard status');
    // The step's "Connection terminated" is the interruption, said once; not the down SQL's fault (issue 25.9).
    expect(stderr).not.toContain('fix the down SQL');
    expect(stderr).not.toContain('error[');
    expect(await schemaVersion(db)).toEqual({ version: '446', dirty: false });
    const check = JSON.parse(repo.dbguard(['check', '--json']).stdout);
    expect(check.conflicts.map((c: { version: string }) => c.version)).toEqual(['446']); // not 447 any more
  });

  it('a record that cannot be written after the rollback says exactly what changed in the database', async () => {
    const db = await createDatabase();
    const p = new Project(db);
    cleanups.push(() => p.cleanup());
    p.setMigrations({ ...tableMigration(1, 'one'), ...tableMigration(2, 'two'), ...tableMigration(3, 'three') });
    await migrate(p.settings());
    p.setMigrations(tableMigration(1, 'one'));
    const stateFolder = dirname(databaseRef(p.settings()).paths.cacheFile);
    const error = await withSession(p.settings(), { destructive: true }, (session) =>
      runRollback(session, p.settings(), {
        // The state folder was writable when the session opened; after the last step it is gone (a file
        // stands in its way), as when the disk fills up before the record is saved.
        report: (event) => {
          if (event.type === 'step-done' && event.version === 2n) {
            rmSync(stateFolder, { recursive: true, force: true });
            writeFileSync(stateFolder, 'not a folder');
          }
        },
      })).catch((e: unknown) => e as DbguardError);
    expect(error).toMatchObject({ code: 'STATE_WRITE_FAILED', details: { rolledBack: ['3', '2'], databaseVersion: '1' } });
    expect((error as DbguardError).message).toMatch(/^rolled back 2; database at 1; the record could not be saved: cannot write/);
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
  });
});

