/**
 * The formats dbguard reads (DESIGN §15). Only golang-migrate's today; dbmate, goose and sql-migrate
 * are recognised by their tables and files, and refused with FORMAT_NOT_SUPPORTED.
 */
import { golangMigrate } from './golang-migrate.js';
import type { MigrationFormat } from './format.js';

export type { MigrationFormat } from './format.js';

/** The format of every project until the others are built. */
export const projectFormat: MigrationFormat = golangMigrate;
