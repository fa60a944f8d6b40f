/**
 * Concurrency (issue 6): 10 processes — `dbguard rollback --yes` and post-checkout hook runs in
 * auto-rollback mode — at once against one database. Exactly one applies the plan; the others wait
 * and find nothing to do, or exit with the busy code; the end state equals a single run's.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, schemaSnapshot, urlFor } from '../helpers/db.js';
import { BIN, GitRepo } from '../helpers/git.js';

const table = (v: number, name: string) => ({
  [`${v}_${name}.up.sql`]: `CREATE TABLE ${name} (id serial PRIMARY KEY, note text);`,
  // Every down execution is logged, so a step run twice would show.
  [`${v}_${name}.down.sql`]: `INSERT INTO down_log (version) VALUES (${v}); SELECT pg_sleep(0.05); DROP TABLE ${name};`,
});
const base = {
  '445_base.up.sql': "CREATE TABLE chat (id serial PRIMARY KEY, note text); CREATE TABLE down_log (version int); INSERT INTO chat (note) SELECT 'n' || g FROM generate_series(1, 50) g;",
  '445_base.down.sql': 'DROP TABLE chat; DROP TABLE down_log;',
};
const branchA = { ...base, ...table(446, 'a_one'), ...table(447, 'a_two'), ...table(448, 'a_three') };

interface Ran {
  readonly kind: 'rollback' | 'hook';
  readonly status: number | null;
  readonly output: string;
}

function spawnRun(repo: GitRepo, kind: Ran['kind'], args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: repo.root, env: { PATH: process.env.PATH, NO_COLOR: '1', ...env } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (status) => resolve({ kind, status, output }));
  });
}

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

/** Branch a applied (445–448), then checked out to main (445 only) without running the hook. */
async function conflicted(): Promise<{ repo: GitRepo; db: string; prev: string; next: string }> {
  const db = await createDatabase();
  const repo = GitRepo.create();
  repos.push(repo);
  repo.write('dbguard.config.json', JSON.stringify({ database: { url: urlFor(db) }, onConflict: 'rollback' }));
  repo.commitMigrations(base, 'base');
  repo.git('checkout', '-q', '-b', 'a');
  repo.commitMigrations(branchA, 'a');
  expect(repo.dbguard(['migrate']).status).toBe(0);
  const prev = repo.git('rev-parse', 'HEAD').stdout.trim();
  repo.git('checkout', '-q', 'main');
  const next = repo.git('rev-parse', 'HEAD').stdout.trim();
  return { repo, db, prev, next };
}

async function endState(db: string) {
  return {
    schema: await schemaSnapshot(db),
    version: await query(db, 'SELECT version::text, dirty FROM schema_migrations'),
    tracked: await query(db, 'SELECT version::text FROM _dbguard.applied_migrations ORDER BY 1'),
    downs: await query(db, 'SELECT version FROM down_log ORDER BY version'),
    chat: await query(db, 'SELECT count(*)::int AS n FROM chat'),
  };
}

async function race(lockTimeoutMs: string | undefined): Promise<{ runs: Ran[]; db: string; repo: GitRepo }> {
  const { repo, db, prev, next } = await conflicted();
  const env = lockTimeoutMs === undefined ? {} : { DBGUARD_LOCK_TIMEOUT_MS: lockTimeoutMs };
  const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 3 === 2
    ? spawnRun(repo, 'hook', ['hook', 'post-checkout', prev, next, '1'], env)
    : spawnRun(repo, 'rollback', ['rollback', '--yes'], env))));
  return { runs, db, repo };
}

describe('10 processes at once against one database', () => {
  it('exactly one applies the plan, the others wait and find nothing to do; the end state equals a single run', { timeout: 120_000 }, async () => {
    const single = await conflicted();
    expect(single.repo.dbguard(['rollback', '--yes']).status).toBe(0);
    const reference = await endState(single.db);
    expect(reference.downs).toEqual([{ version: 446 }, { version: 447 }, { version: 448 }]);

    const { runs, db, repo } = await race(undefined);
    const appliers = runs.filter((r) => /rolled back 3 migrations/.test(r.output));
    expect(appliers).toHaveLength(1);
    for (const r of runs) {
      expect(r.status, r.output).toBe(0);
      if (r.kind === 'rollback' && !appliers.includes(r)) expect(r.output).toContain('nothing to roll back');
    }
    expect(await endState(db)).toEqual(reference);
    expect(repo.dbguard(['check']).status).toBe(0);
  });

  it('with no waiting (DBGUARD_LOCK_TIMEOUT_MS=0) the others exit with DB_BUSY (4) or find nothing to do', { timeout: 120_000 }, async () => {
    const { runs, db } = await race('0');
    const appliers = runs.filter((r) => /rolled back 3 migrations/.test(r.output));
    expect(appliers).toHaveLength(1);
    for (const r of runs.filter((x) => !appliers.includes(x))) {
      if (r.kind === 'hook') {
        expect(r.status).toBe(0); // a hook never fails git, busy or not
      } else if (r.status === 4) {
        expect(r.output).toContain('error[DB_BUSY]');
      } else {
        expect(r.status, r.output).toBe(0);
        expect(r.output).toContain('nothing to roll back');
      }
    }
    expect((await endState(db)).downs).toEqual([{ version: 446 }, { version: 447 }, { version: 448 }]);
  });
});
