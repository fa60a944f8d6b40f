/**
 * The formats dbguard reads (DESIGN §15): named by `"format"` (or DBGUARD_FORMAT), otherwise told from
 * the migration files or the tracking table. Which one a project uses is its settings' to say.
 */
import { dbmate } from './dbmate.js';
import { drizzle } from './drizzle.js';
import type { FormatName, MigrationFormat } from '../core/format.js';
import { golangMigrate } from './golang-migrate.js';
import { goose } from './goose.js';
import { nodePgMigrate } from './node-pg-migrate.js';
import { prisma } from './prisma.js';
import { sqlMigrate } from './sql-migrate.js';

export { belowTopRule, isFormatName, keepsDirtyFlag, type FormatName, type MigrationFormat } from '../core/format.js';

/** Every format dbguard reads, by name: values, chosen per project and handed down (no process-wide choice). */
export const FORMATS: Readonly<Record<FormatName, MigrationFormat>> = {
  'golang-migrate': golangMigrate, dbmate, goose, 'sql-migrate': sqlMigrate, 'node-pg-migrate': nodePgMigrate, drizzle, prisma,
};

/**
 * The project's format: the value its settings name (told from the files or named in the config),
 * bound to the versions its index file gave when the tool keeps one (Drizzle's journal).
 */
export function formatOf(settings: { readonly format: FormatName; readonly migrationIndex?: (() => ReadonlyMap<string, bigint>) | undefined }): MigrationFormat {
  const format = FORMATS[settings.format];
  return format.index !== undefined && settings.migrationIndex !== undefined ? format.index.bind(settings.migrationIndex) : format;
}

const MARKERS: ReadonlyArray<[FormatName, RegExp]> = [
  ['dbmate', /^--\s*migrate:(up|down)\b/m],
  ['goose', /^--\s*\+goose\s+(up|down)\b/im],
  ['sql-migrate', /^-- \+migrate (Up|Down)\b/m],
  ['node-pg-migrate', /^\s*--[\s-]*up\s+migration/im],
];
/** A node-pg-migrate script migration names its builder (`pgm`) or the package in its first lines. */
const NODE_PG_MIGRATE_SCRIPT = /\bpgm\b|node-pg-migrate/;

/**
 * The format the files are written in, from the first that tells: two files per version is
 * golang-migrate; a single `.sql` file is told by its markers (`readHead` gives its first bytes). It
 * stops there, so the hook lists no folder to know it (a file of another format is then the catalog's
 * MIGRATION_NAME_INVALID, or fails its own parse, named). null: no migrations yet.
 */
export function detectFormat(fileNames: Iterable<string>, readHead: (fileName: string) => string | null): FormatName | null {
  for (const name of fileNames) {
    if (/^[0-9]+_.*\.(up|down)\.sql$/.test(name)) return 'golang-migrate';
    // Drizzle Kit's journal; Prisma's lock file, or a <timestamp>_<name> folder with its migration.sql.
    if (name === 'meta' && /"entries"\s*:/.test(readHead('meta/_journal.json') ?? '')) return 'drizzle';
    if (name === 'migration_lock.toml' || (/^[0-9]+_[^.]*$/.test(name) && readHead(`${name}/migration.sql`) !== null)) return 'prisma';
    if (/^[0-9].*\.[cm]?[jt]s$/.test(name) && NODE_PG_MIGRATE_SCRIPT.test(readHead(name) ?? '')) return 'node-pg-migrate';
    if (!/^[0-9].*\.sql$/.test(name)) continue;
    const head = readHead(name);
    const format = head === null ? undefined : MARKERS.find(([, pattern]) => pattern.test(head))?.[0];
    if (format !== undefined) return format;
  }
  return null;
}
