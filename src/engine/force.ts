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
import type { DiskState } from '../core/compare.js';
import { listVersions } from '../core/text.js';
import { readTracked } from '../db/tracking.js';

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

/**
 * A forced version must be one a migration has (a file, or a tracking row), or the dirty one: any other
 * leaves the database at a version nothing can roll back or apply from, with no way on but reset.
 */
async function assertKnownVersion(session: DbSession, disk: DiskState, dirty: bigint, version: bigint): Promise<void> {
  const known = new Set([dirty, ...disk.catalog.migrations.filter((m) => m.up !== undefined).map((m) => m.version), ...(await readTracked(session.client)).map((row) => row.version)]);
  if (known.has(version)) return;
  const newestFirst = [...known].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const below = newestFirst.find((v) => v < dirty);
  throw new DbguardError('FORCE_UNKNOWN_VERSION', `no migration has version ${version} (no file, no tracking row): forced, the database would be at a version nothing can roll back or apply from; nothing was changed`, {
    hint: `dbguard force ${dirty}   (the dirty version, once repaired), or dbguard force ${below ?? 'none'}   (if it left nothing of ${dirty}); versions known, newest first: ${listVersions(newestFirst)}, or none`,
    details: { version: version.toString(), dirty: dirty.toString() },
  });
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
  const dir = absoluteMigrationsDir(settings);
  const disk = readDiskState(dir, session.format);
  if (version !== null) await assertKnownVersion(session, disk, current.version, version);
  await inTransaction(session.client, () => writeSchemaVersion(session.client, session.format, version, false));
  // Tracking rows above the forced version go, and the cache is rewritten from what is now applied.
  const capture = await captureAppliedMigrations(session, dir, disk);
  return { from: current.version, to: version, capture };
}
