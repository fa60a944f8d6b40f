/** Migration files' contents: read whole, checked to be UTF-8 SQL, hashed. */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DbguardError } from '../core/errors.js';
import { errnoCode } from './migrations-dir.js';

/** Larger migration files are refused: dbguard stores down SQL in a table and reads files whole. */
export const MAX_MIGRATION_BYTES = 16 * 1024 * 1024;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a migration file as UTF-8 SQL; binary, non-UTF-8 and oversized files are refused. */
export function readMigrationFile(dir: string, name: string): { sql: string; sha256: string } {
  const path = join(dir, name);
  let bytes: Buffer;
  try {
    const size = statSync(path).size;
    if (size > MAX_MIGRATION_BYTES) {
      throw new DbguardError('MIGRATION_FILE_INVALID', `${name} is ${(size / 1048576).toFixed(1)} MiB; migrations over ${MAX_MIGRATION_BYTES / 1048576} MiB are refused`, {
        hint: 'split the migration, or load bulk data outside migrations', details: { file: name, size },
      });
    }
    bytes = readFileSync(path);
  } catch (error) {
    if (error instanceof DbguardError) throw error;
    throw new DbguardError('MIGRATION_FILE_INVALID', `cannot read ${name} (${errnoCode(error)})`, {
      hint: `check ${path}`, details: { file: name, error: errnoCode(error) },
    });
  }
  return { sql: decodeSql(bytes, name), sha256: createHash('sha256').update(bytes).digest('hex') };
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

