/**
 * The formats dbguard reads (DESIGN §15) and the project's: named by `"format"` (or DBGUARD_FORMAT),
 * otherwise told from the migration files. The project's format is chosen once per process, when its
 * settings are loaded; everything else asks `projectFormat`.
 */
import { dbmate } from './dbmate.js';
import type { MigrationFormat } from './format.js';
import { golangMigrate } from './golang-migrate.js';
import { goose } from './goose.js';
import { sqlMigrate } from './sql-migrate.js';

export type { MigrationFormat } from './format.js';

export const FORMATS: Readonly<Record<MigrationFormat['name'], MigrationFormat>> = {
  'golang-migrate': golangMigrate, dbmate, goose, 'sql-migrate': sqlMigrate,
};
export type FormatName = MigrationFormat['name'];
export const isFormatName = (name: string): name is FormatName => Object.hasOwn(FORMATS, name);

/** The project's format (a live binding: set by useFormat when the settings are loaded). */
export let projectFormat: MigrationFormat = golangMigrate;
/** Whether anything chose it (the config, the files); a default may still be told from the tracking table. */
export let formatChosen = false;

export function useFormat(name: FormatName, chosen = true): MigrationFormat {
  projectFormat = FORMATS[name];
  formatChosen = chosen;
  return projectFormat;
}

/** Whether the tool keeps a dirty flag (golang-migrate): it has the statements that set one. */
export const keepsDirtyFlag = (format: MigrationFormat): format is MigrationFormat & Required<Pick<MigrationFormat, 'setVersionSql'>> => format.setVersionSql !== undefined;

/** What the tool does with a pending migration below the newest applied one, in words ("it" or "them"). */
export function belowTopRule(format: MigrationFormat, count: number, verbForm: 'would' | 'does' = 'would'): string {
  const them = count === 1 ? 'it' : 'them';
  const does = { skipped: verbForm === 'would' ? `would skip ${them}` : `skips ${them}`, applied: `applies ${them} too`, refused: `refuses ${them}` }[format.outOfOrder];
  return `${format.name} ${does}`;
}

const MARKERS: ReadonlyArray<[FormatName, RegExp]> = [
  ['dbmate', /^--\s*migrate:(up|down)\b/m],
  ['goose', /^--\s*\+goose\s+(up|down)\b/im],
  ['sql-migrate', /^-- \+migrate (Up|Down)\b/m],
];

/**
 * The format the files are written in, from the first that tells: two files per version is
 * golang-migrate; a single `.sql` file is told by its markers (`readHead` gives its first bytes). It
 * stops there, so the hook lists no folder to know it (a file of another format is then the catalog's
 * MIGRATION_NAME_INVALID, or fails its own parse, named). null: no migrations yet.
 */
export function detectFormat(fileNames: Iterable<string>, readHead: (fileName: string) => string | null): FormatName | null {
  for (const name of fileNames) {
    if (/^[0-9]+_.*\.(up|down)\.sql$/.test(name)) return 'golang-migrate';
    if (!/^[0-9].*\.sql$/.test(name)) continue;
    const head = readHead(name);
    const format = head === null ? undefined : MARKERS.find(([, pattern]) => pattern.test(head))?.[0];
    if (format !== undefined) return format;
  }
  return null;
}
