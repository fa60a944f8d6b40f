/**
 * As most of our users run it: `npm pack`, `npm i -g` of the tarball under a temp prefix, its bin on
 * PATH, and a Go service's repository (no package.json, no node_modules) whose migrations dbguard guards.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaVersion, tableMigration, urlFor } from '../helpers/db.js';
import { base, branchA, GitRepo, PACKAGE_ROOT, run } from '../helpers/git.js';

let work: string;
let path: string;

/** What npm needs to reach the registry from this machine: its proxy and CA settings (a TLS-inspecting proxy's CA). */
function networkEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => /^(NODE_EXTRA_CA_CERTS|SSL_CERT_(FILE|DIR)|(HTTPS?|NO|ALL)_PROXY|npm_config_(registry|cafile|ca|proxy|https_proxy|noproxy|strict_ssl))$/i.test(key)));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'dbguard-global-install-'));
  chmodSync(work, 0o755); // as root, the embedded server runs as "postgres", which must reach the installed binaries
  // dist/ is already built by the suite's setup; prepack would rebuild it under the other test files.
  const pack = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], PACKAGE_ROOT);
  expect(pack.status, pack.stderr).toBe(0);
  const tarball = join(work, pack.stdout.trim().split('\n').at(-1) as string);
  const prefix = join(work, 'prefix');
  // npm ci fetched every tarball; once the registry's metadata is cached too, --offline makes no request at
  // all (a few seconds). A cold metadata cache needs the registry: that try gets a bound no slow registry
  // reaches, instead of failing the suite (it once passed 120 s on a loaded machine).
  const install = (mode: string, timeout: number) => spawnSync('npm', ['install', '--global', '--prefix', prefix, mode, '--no-audit', '--no-fund', tarball], {
    cwd: work, encoding: 'utf8', timeout, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...networkEnv() },
  });
  const started = Date.now();
  let installed = install('--offline', 120_000);
  if (installed.status !== 0) installed = install('--prefer-offline', 540_000);
  expect(installed.status, `after ${Date.now() - started} ms: ${(installed.stderr ?? '').slice(-3000)}`).toBe(0);
  path = `${join(prefix, 'bin')}:${process.env.PATH}`;
}, 700_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm i -g dbguard in a Go project', () => {
  it('init, migrate, a branch switch that warns, a rebase that keeps the data, and a rollback', async () => {
    const db = await createDatabase();
    const repo = GitRepo.create({ nodeModules: false });
    try {
      const dbguard = (args: string[]) => run('dbguard', args, repo.root, { PATH: path });
      repo.write('go.mod', 'module example.com/service\n\ngo 1.22\n');
      repo.commitMigrations(base, 'base');
      const init = dbguard(['init']);
      expect(init.status, init.stderr).toBe(0);
      // dbguard's own git config keys go through plain git: no simple-git allow-list warning (issue 26.5).
      expect(init.stderr).not.toContain('SIMPLE_GIT');
      expect(init.stderr).not.toContain('simple-git');
      expect(existsSync(join(repo.root, 'node_modules'))).toBe(false);
      const config = JSON.parse(readFileSync(join(repo.root, 'dbguard.config.json'), 'utf8'));
      writeFileSync(join(repo.root, 'dbguard.config.json'), JSON.stringify({ ...config, database: { url: urlFor(db) } }));
      repo.git('add', '-A');
      repo.git('commit', '-q', '-m', 'dbguard');
      expect(JSON.parse(dbguard(['hooks', 'status', '--json']).stdout).runner.kind).toBe('recorded');

      repo.git('checkout', '-q', '-b', 'feature');
      repo.commitMigrations(branchA, 'feature: 446, 447');
      expect(dbguard(['migrate']).status).toBe(0);
      await query(db, "INSERT INTO a_two (note) VALUES ('weeks of test data')");

      // The hook runs the global dbguard even with it off PATH (git GUIs), by the recorded path.
      const toMain = repo.git('checkout', 'main');
      expect(toMain.stderr).toContain('lacks 2 migrations the database has applied: 447, 446');
      expect(toMain.stderr).not.toMatch(/npm (error|ERR)/);
      expect(toMain.stderr).not.toContain('SIMPLE_GIT');
      expect(dbguard(['hooks', 'status']).stderr).not.toContain('SIMPLE_GIT');
      repo.git('checkout', '-q', 'feature');

      const tree = repo.git('rev-parse', 'main^{tree}').stdout.trim();
      repo.git('update-ref', 'refs/heads/main', repo.git('commit-tree', tree, '-p', 'main', '-m', 'main moves').stdout.trim());
      const rebase = repo.git('rebase', 'main');
      expect(rebase.status).toBe(0);
      expect(rebase.stderr).not.toContain('lacks');
      expect(await query(db, 'SELECT note FROM a_two')).toEqual([{ note: 'weeks of test data' }]);

      repo.git('checkout', '-q', 'main');
      const rollback = dbguard(['rollback', '--yes']);
      expect(rollback.status, rollback.stderr).toBe(0);
      expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
      repo.git('checkout', '-q', '-b', 'other');
      repo.commitMigrations({ ...base, ...tableMigration(450, 'other_t') }, 'other');
      expect(dbguard(['migrate']).status).toBe(0);
      expect(await schemaVersion(db)).toEqual({ version: '450', dirty: false });
    } finally {
      repo.cleanup();
    }
  });
  it('dbguard run -- <a Go-style app that migrates itself>: captured as it applies, the next checkout warns, a conflict keeps it from starting', async () => {
    const repo = GitRepo.create({ nodeModules: false });
    const app = resolve(import.meta.dirname, '..', 'fixtures', 'go-style-app.mjs');
    try {
      const dbguard = (args: string[], env: NodeJS.ProcessEnv = {}) => run('dbguard', args, repo.root, { PATH: path, ...env });
      repo.write('go.mod', 'module example.com/service\n\ngo 1.22\n');
      repo.commitMigrations(base, 'base');
      expect(dbguard(['init']).status).toBe(0);
      repo.git('add', '-A');
      repo.git('commit', '-q', '-m', 'dbguard');
      repo.git('checkout', '-q', '-b', 'feature');
      repo.commitMigrations(branchA, 'feature: 446, 447');
      const ran = dbguard(['run', '--', process.execPath, app, 'migrations'], { APP_EXIT_AFTER_MIGRATE: '1' });
      expect(ran.status, ran.stderr).toBe(0);
      expect(ran.stdout).toContain('migrated 447');
      expect(ran.stderr).toContain('dbguard: captured down SQL for 445, 446, 447');
      expect(repo.git('checkout', 'main').stderr).toContain('lacks 2 migrations the database has applied: 447, 446');
      const refused = dbguard(['run', '--', process.execPath, app, 'migrations'], { APP_EXIT_AFTER_MIGRATE: '1' });
      expect(refused.status).toBe(1);
      expect(refused.stdout).not.toContain('migrated');
      expect(dbguard(['run', '--rollback', '--', process.execPath, app, 'migrations'], { APP_EXIT_AFTER_MIGRATE: '1' }).stdout).toContain('migrated 445');
    } finally {
      run('dbguard', ['db', 'stop'], repo.root, { PATH: path });
      repo.cleanup();
    }
  });
});
