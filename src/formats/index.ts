/**
 * The formats dbguard reads (DESIGN §15). Only golang-migrate's today; dbmate, goose and sql-migrate
 * are recognised by their tables and files, and refused with FORMAT_NOT_SUPPORTED.
 */
import { golangMigrate } from './golang-migrate.js';
import type { MigrationFormat } from './format.js';

export type { MigrationFormat } from './format.js';

/** The format of every project until the others are built. */
export const projectFormat: MigrationFormat = golangMigrate;

/** What the tool does with a pending migration below the newest applied one, in words ("it" or "them"). */
export function belowTopRule(format: MigrationFormat, count: number, verbForm: 'would' | 'does' = 'would'): string {
  const them = count === 1 ? 'it' : 'them';
  const does = { skipped: verbForm === 'would' ? `would skip ${them}` : `skips ${them}`, applied: `applies ${them} too`, refused: `refuses ${them}` }[format.outOfOrder];
  return `${format.name} ${does}`;
}
