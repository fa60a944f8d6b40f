/**
 * Issue 27: rollback, status and check read the database's facts once and hand them down (no helper
 * reads the version or the tracking rows again), so their round trips stay counted here: a statement
 * more in one of these flows is a decision, not a drift. Counted through pg's Client.query, which every
 * session's client is.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkCommand } from '../../src/commands/check.js';
import { checkWithoutCache } from '../../src/commands/hook-actions.js';
import type { CommandContext } from '../../src/commands/context.js';
import { rollbackCommand } from '../../src/commands/rollback.js';
import { statusCommand } from '../../src/commands/status.js';
import { createOutput } from '../../src/ui/output.js';
import { createDatabase, Project, query, schemaVersion, tableMigration } from '../helpers/db.js';
import { migrate } from '../helpers/engine.js';

const STEPS = 4;
const base = tableMigration(1, 'base');
const all = { ...base, ...Object.assign({}, ...Array.from({ length: STEPS }, (_, i) => tableMigration(i + 2, `step_${i + 2}`))) };

const projects: Project[] = [];
afterEach(() => {
  projects.splice(0).forEach((p) => p.cleanup());
  vi.restoreAllMocks();
});

function contextFor(p: Project): CommandContext {
  const sink = new PassThrough() as unknown as NodeJS.WriteStream;
  return { cwd: p.root, env: {}, out: createOutput({ json: true, stdout: sink, stderr: sink, env: {} }), canPrompt: false };
}

/** Round trips (Client.query calls) while `work` runs, and the statements, for a failing assertion's message. */
async function roundTrips(work: () => Promise<unknown>): Promise<{ count: number; statements: string[] }> {
  const spy = vi.spyOn(pg.Client.prototype, 'query');
  try {
    await work();
    return { count: spy.mock.calls.length, statements: spy.mock.calls.map((call) => String((call[0] as { text?: string }).text ?? call[0]).replace(/\s+/g, ' ').slice(0, 90)) };
  } finally {
    spy.mockRestore();
  }
}

async function appliedProject(): Promise<{ p: Project; db: string }> {
  const db = await createDatabase();
  const p = new Project(db, { stash: false });
  projects.push(p);
  p.setMigrations(all);
  await migrate(p.settings());
  return { p, db };
}

describe('round trips of the flows that read the facts once (issue 27)', () => {
  it(`status and check read the version and the tracking rows in 2 round trips; rollback of ${STEPS} pays 23 fixed ones around its 4 steps (stash off)`, async () => {
    const { p, db } = await appliedProject();
    const status = await roundTrips(() => statusCommand(contextFor(p), {}));
    const check = await roundTrips(() => checkCommand(contextFor(p), {}));
    p.setMigrations(base);
    const rollback = await roundTrips(() => rollbackCommand(contextFor(p), { yes: true, snapshot: false }));
    expect(await schemaVersion(db)).toEqual({ version: '1', dirty: false });
    const counts = { status: status.count, check: check.count, rollback: rollback.count };
    expect(counts, JSON.stringify({ status: status.statements, check: check.statements, rollback: rollback.statements }, null, 1)).toEqual({ status: 7, check: 2, rollback: 4 + 23 });
  });

  it('the hook\'s database check (the app applied a migration the checkout removes) takes 8', async () => {
    const { p, db } = await appliedProject();
    const git = (...args: string[]) => execFileSync('git', args, { cwd: p.root, encoding: 'utf8' }).trim();
    p.setMigrations({ ...all, ...tableMigration(9, 'by_app') });
    git('init', '-q', '-b', 'main');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'base');
    git('add', 'migrations');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '-m', 'the app\'s migration');
    const prev = git('rev-parse', 'HEAD');
    await query(db, 'CREATE TABLE by_app (id int); UPDATE schema_migrations SET version = 9');
    rmSync(join(p.migrationsDir, '9_create_by_app.up.sql'));
    rmSync(join(p.migrationsDir, '9_create_by_app.down.sql'));
    const said: string[] = [];
    const hook = await roundTrips(() => checkWithoutCache(p.settings(), prev, 'this checkout', { cwd: p.root, env: {}, err: (text) => said.push(text) }, '9 left'));
    expect(said.join('')).toMatch(/lacks 1 migration the database has applied: 9 \(checked the database: 9 left\)/);
    expect(await query(db, 'SELECT version::text FROM _dbguard.applied_migrations WHERE version = 9')).toEqual([{ version: '9' }]);
    expect(hook.count, hook.statements.join('\n')).toBe(8);
  });
});
