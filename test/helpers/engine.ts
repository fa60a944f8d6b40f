/** Runs engine flows against a Project the way the commands do (session, lock, work, close). */
import type { Settings } from '../../src/core/settings.js';
import { captureAppliedMigrations } from '../../src/engine/capture.js';
import { silent, type ProgressEvent } from '../../src/core/events.js';
import { migratePending } from '../../src/engine/migrate.js';
import { buildRollbackPlan, runRollback, type RunRollbackOptions } from '../../src/engine/rollback.js';
import { withSession } from '../../src/engine/session.js';
import { absoluteMigrationsDir } from '../../src/fs/config.js';
import { readDiskState } from '../../src/fs/migrations-dir.js';

export function migrate(settings: Settings) {
  return withSession(settings, { destructive: true, create: true }, (session) => migratePending(session, settings, silent));
}

export function plan(settings: Settings) {
  return withSession(settings, { destructive: false }, async (session) => (await buildRollbackPlan(session, settings)).plan);
}

export function rollback(settings: Settings, options: Partial<RunRollbackOptions> = {}) {
  const events: ProgressEvent[] = [];
  return withSession(settings, { destructive: true }, async (session) => ({
    ...(await runRollback(session, settings, { report: (e) => events.push(e), ...options })),
    events,
  }));
}

export function capture(settings: Settings) {
  const dir = absoluteMigrationsDir(settings);
  return withSession(settings, { destructive: true }, (session) => captureAppliedMigrations(session, dir, readDiskState(dir, session.format)));
}
