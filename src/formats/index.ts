/**
 * The formats dbguard reads (DESIGN §15) and the project's: named by `"format"` (or DBGUARD_FORMAT),
 * otherwise told from the migration files. The project's format is chosen once per process, when its
 * settings are loaded; everything else asks `projectFormat`.
 */
import { DbguardError } from '../core/errors.js';
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

export function useFormat(name: FormatName): MigrationFormat {
  projectFormat = FORMATS[name];
  return projectFormat;
}

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
 * The format the files are written in: two files per version is golang-migrate; a single `.sql` file
 * is told by its markers (`readHead` gives its first bytes). No migrations: golang-migrate, the
 * default. Files of more than one format are FORMAT_MIXED.
 */
export function detectFormat(fileNames: readonly string[], readHead: (fileName: string) => string | null, dir: string): FormatName | null {
  const pairs = fileNames.filter((n) => /^[0-9]+_.*\.(up|down)\.sql$/.test(n));
  const singles = fileNames.filter((n) => /^[0-9].*\.sql$/.test(n) && !/\.(up|down)\.sql$/.test(n));
  const found = new Map<FormatName, string>();
  if (pairs[0] !== undefined) found.set('golang-migrate', pairs[0]);
  // The first file with a tool's markers tells (a file of another tool then fails its own parse, named).
  for (const name of singles) {
    const head = readHead(name);
    const format = head === null ? undefined : MARKERS.find(([, pattern]) => pattern.test(head))?.[0];
    if (format === undefined) continue;
    found.set(format, name);
    break;
  }
  if (found.size > 1) {
    const list = [...found].map(([format, file]) => `${file} (${format})`).join(', ');
    throw new DbguardError('FORMAT_MIXED', `${dir} holds migrations of more than one format: ${list}`, {
      hint: 'keep one tool\'s migrations in the folder, or set "format" in dbguard.config.json to the one in use', details: { formats: Object.fromEntries(found) },
    });
  }
  return [...found.keys()][0] ?? null;
}
