/**
 * `dbguard force <version>` (golang-migrate's `force`): after a person repaired what a half-applied
 * migration left, record the version the schema is really at and clear the dirty flag. Only a dirty
 * database is forced: on a clean one it could only make the record lie.
 */
import { parseVersionArgument } from '../core/catalog.js';
import { DbguardError } from '../core/errors.js';
import type { Settings } from '../core/settings.js';
import { inTransaction } from '../db/client.js';
import { forceNotApplicable, readSchemaVersion, writeSchemaVersion } from '../db/schema-migrations.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { captureAppliedMigrations, type CaptureResult } from './capture.js';
import type { DbSession } from './session.js';
import { keepsDirtyFlag } from '../core/format.js';

/** `none` and golang-migrate's `-1` mean "nothing applied". */
export function parseForceVersion(text: string): bigint | null {
  if (text === 'none' || text === '-1') return null;
  return parseVersionArgument(text, 'dbguard force <version>   (or none when nothing is applied)');
}

export interface ForceResult {
  readonly from: bigint;
  readonly to: bigint | null;
  readonly capture: CaptureResult;
}

/** Needs a session that changes the database (it holds the locks). */
export async function forceVersion(session: DbSession, settings: Settings, version: bigint | null): Promise<ForceResult> {
  if (!keepsDirtyFlag(session.format)) throw forceNotApplicable(session.format);
  const current = await readSchemaVersion(session.client, session.format);
  if (!current?.dirty) {
    throw new DbguardError('USAGE', `the database is not dirty (it is at ${current?.version ?? 'nothing applied'}); force only clears a dirty flag after a repair`, {
      hint: 'dbguard status',
    });
  }
  await inTransaction(session.client, () => writeSchemaVersion(session.client, session.format, version, false));
  const dir = absoluteMigrationsDir(settings);
  // Tracking rows above the forced version go, and the cache is rewritten from what is now applied.
  const capture = await captureAppliedMigrations(session, dir, readDiskState(dir, session.format));
  return { from: current.version, to: version, capture };
}
