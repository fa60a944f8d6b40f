/** Migration files' contents: read whole, checked to be UTF-8 SQL, hashed. */
import { createHash } from 'node:crypto';
import { readBoundedBytes, UnreadableFile } from './bounded-read.js';
import { join } from 'node:path';
import { DbguardError, isDbguardError } from '../core/errors.js';
import type { Catalog, Direction } from '../core/catalog.js';
import { NO_DOWN_FILE, notRunnableWhy } from '../core/no-down.js';
import type { MigrationFormat } from '../core/format.js';
import { errnoCode, linkLeavesRepository } from './migrations-dir.js';

/** Larger migration files are refused: dbguard stores down SQL in a table and reads files whole. */
export const MAX_MIGRATION_BYTES = 16 * 1024 * 1024;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a migration file as UTF-8 SQL; binary, non-UTF-8 and oversized files are refused. */
export function readMigrationFile(dir: string, name: string): { sql: string; sha256: string } {
  const bytes = readRegularFile(dir, name);
  return { sql: decodeSql(bytes, name), sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * One direction's SQL of a migration file, as its format cuts it (a two-file format's file is all of
 * it), and the sha256 of the whole file. Bad markers are MIGRATION_FILE_INVALID naming the line.
 */
export function readMigrationSql(format: MigrationFormat, dir: string, name: string, direction: Direction): { sql: string; sha256: string } {
  const file = readMigrationFile(dir, name);
  return { sql: format.sectionOf(file.sql, direction, name, process.env), sha256: file.sha256 };
}

/**
 * A migration's up and down SQL (null: no down file), its up file's sha256; a single-file format's
 * file is read once for both. The up is cut first, so its error comes first, as reading each would.
 */
export function readUpAndDown(format: MigrationFormat, dir: string, migration: { readonly up: string; readonly down: string | undefined }): { upSql: string; upSha256: string; downSql: string | null } {
  const up = readMigrationFile(dir, migration.up);
  const upSql = format.sectionOf(up.sql, 'up', migration.up, process.env);
  if (migration.down === undefined) return { upSql, upSha256: up.sha256, downSql: null };
  const downText = migration.down === migration.up ? up.sql : readMigrationFile(dir, migration.down).sql;
  return { upSql, upSha256: up.sha256, downSql: format.sectionOf(downText, 'down', migration.down, process.env) };
}

/** An applied migration's files as capture records them: whatever could be read, and why its down SQL could not. */
export interface AppliedFiles {
  /** sha256 of the up file; null when it could not be read at all. */
  readonly upSha256: string | null;
  readonly upSql: string | null;
  readonly downSql: string | null;
  /** Why downSql is null: "no down file", "down SQL unavailable: line 12: …". */
  readonly whyNoDown: string | null;
}

/**
 * §18: a problem in one applied file concerns that file. The tool applied it long ago and never reads
 * it again, so a file its tool would now misread, or that cannot be read, is recorded without its down
 * SQL, and why — never an error that stops the other migrations from being recorded.
 */
export function readAppliedMigration(format: MigrationFormat, dir: string, migration: { readonly up: string; readonly down: string | undefined; readonly runnable?: boolean }): AppliedFiles {
  if (migration.runnable === false) {
    // Not SQL (a goose Go migration): tracked by its file's sha256, without down SQL.
    return { upSha256: sha256Of(dir, migration.up), upSql: null, downSql: null, whyNoDown: notRunnableWhy(format.notRunnable?.what ?? 'a migration') };
  }
  try {
    const { upSql, upSha256, downSql } = readUpAndDown(format, dir, migration);
    return { upSql, upSha256, downSql, whyNoDown: downSql === null ? format.noDownSql ?? NO_DOWN_FILE : null };
  } catch (error) {
    if (!isDbguardError(error) || error.code !== 'MIGRATION_FILE_INVALID') throw error;
    const upSha256 = sha256Of(dir, migration.up);
    const why = error.message.startsWith(`${migration.up} line `) ? error.message.slice(migration.up.length + 1) : error.message;
    return { upSha256, upSql: null, downSql: null, whyNoDown: `down SQL unavailable: ${why}` };
  }
}

/** A file's sha256, or null when it cannot be read at all. */
function sha256Of(dir: string, name: string): string | null {
  try {
    return createHash('sha256').update(readRegularFile(dir, name)).digest('hex');
  } catch {
    return null;
  }
}

function notReadable(name: string, path: string, why: string, code: string): DbguardError {
  return new DbguardError('MIGRATION_FILE_INVALID', `${name} ${why}`, { hint: `replace ${path} with a regular SQL file`, details: { file: name, error: code } });
}

/**
 * A repository's file names are not trusted (a hook runs them on checkout): only a regular file whose
 * real path lies inside the repository is read, with a size bound. A FIFO would block the read forever
 * and a link to /etc/shadow would be sent to Postgres; both are refused.
 */
export function readRegularFile(dir: string, name: string): Buffer {
  const path = join(dir, name);
  try {
    const outside = linkLeavesRepository(dir, name);
    if (outside !== null) throw notReadable(name, path, `is a link to ${outside}, outside the repository; it is not read`, 'EOUTSIDE');
    return readBoundedBytes(path, MAX_MIGRATION_BYTES);
  } catch (error) {
    if (error instanceof DbguardError) throw error;
    if (error instanceof UnreadableFile && error.code === 'ENOTREG') throw notReadable(name, path, 'is not a regular file; it is not read', 'ENOTREG');
    if (error instanceof UnreadableFile) {
      throw new DbguardError('MIGRATION_FILE_INVALID', `${name} is ${(error.size / 1048576).toFixed(1)} MiB; migrations over ${MAX_MIGRATION_BYTES / 1048576} MiB are refused`, {
        hint: 'split the migration, or load bulk data outside migrations', details: { file: name, size: error.size },
      });
    }
    throw new DbguardError('MIGRATION_FILE_INVALID', `cannot read ${name} (${errnoCode(error)})`, {
      hint: `check ${path}`, details: { file: name, error: errnoCode(error) },
    });
  }
}

export function decodeSql(bytes: Uint8Array, name: string): string {
  if (bytes.includes(0)) {
    throw new DbguardError('MIGRATION_FILE_INVALID', `${name} is binary (contains NUL bytes), not SQL`, { hint: `replace ${name} with a SQL text file`, details: { file: name } });
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new DbguardError('MIGRATION_FILE_INVALID', `${name} is not valid UTF-8`, { hint: `re-save ${name} as UTF-8`, details: { file: name } });
  }
}

/**
 * Of these pending versions, the errors migrate would give reading them (a marker its tool would
 * misread, a file it cannot read): status and check name them rather than call the folder clean. One
 * dbguard cannot run (a goose Go migration) is not read: its tool runs it (§18).
 */
export function invalidPending(format: MigrationFormat, dir: string, catalog: Catalog, versions: readonly bigint[]): DbguardError[] {
  const errors: DbguardError[] = [];
  for (const version of versions) {
    const migration = catalog.byVersion.get(version);
    if (migration?.up === undefined || !migration.runnable) continue;
    try {
      readUpAndDown(format, dir, { up: migration.up, down: migration.down });
    } catch (error) {
      if (!isDbguardError(error)) throw error;
      errors.push(error);
    }
  }
  return errors;
}
