/**
 * The disk catalog: which migrations a directory listing holds, as the project's format names them
 * (src/formats: golang-migrate's `<version>_<name>.(up|down).sql`, parsed with a full pattern, never
 * by fixed-width slicing, because widths differ between projects and timestamps are 14 digits long).
 */

import type { MigrationFormat } from './format.js';

export type { Direction, ParsedMigrationName } from './format.js';
import { DbguardError } from './errors.js';
import { MAX_VERSION } from './limits.js';

export { MAX_VERSION } from './limits.js';



export interface Migration {
  readonly version: bigint;
  readonly name: string;
  /** File name of the up migration, when present. */
  readonly up: string | undefined;
  /** File name of the down migration, when present. */
  readonly down: string | undefined;
  /**
   * false: listed, tracked and versioned like the others, but not SQL dbguard can run (a goose Go
   * migration, §18): migrate stops before it, and it has no down SQL.
   */
  readonly runnable: boolean;
}

export type CatalogIssue =
  | { readonly code: 'MIGRATION_NAME_INVALID'; readonly severity: 'error'; readonly file: string; readonly reason: string }
  | { readonly code: 'MIGRATION_VERSION_REUSED'; readonly severity: 'error'; readonly version: bigint; readonly files: readonly string[] }
  | { readonly code: 'MIGRATION_DOWN_MISSING'; readonly severity: 'warning'; readonly version: bigint; readonly file: string }
  | { readonly code: 'MIGRATION_UP_MISSING'; readonly severity: 'warning'; readonly version: bigint; readonly file: string }
  /** A file the format's index lists (Drizzle's journal) is not in the folder: the tool cannot run the folder either. */
  | { readonly code: 'MIGRATION_FILE_MISSING'; readonly severity: 'error'; readonly file: string; readonly index: string };

export interface Catalog {
  /** The format the listing was read as (its names, its layout): what every plan over it speaks. */
  readonly format: MigrationFormat;
  /** Ascending by version. */
  readonly migrations: readonly Migration[];
  readonly byVersion: ReadonlyMap<bigint, Migration>;
  readonly issues: readonly CatalogIssue[];
}

export function compareVersions(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The highest of some versions, or null when there are none. */
export function maxVersion(versions: Iterable<bigint>): bigint | null {
  let best: bigint | null = null;
  for (const v of versions) if (best === null || v > best) best = v;
  return best;
}

/** A version typed on the command line: digits, positive, within 64 bits; `usage` is the hint when not. */
export function parseVersionArgument(text: string, usage: string): bigint {
  if (!/^[0-9]+$/.test(text) || BigInt(text) === 0n || BigInt(text) > MAX_VERSION) {
    throw new DbguardError('USAGE', `"${text}" is not a migration version`, { hint: usage });
  }
  return BigInt(text);
}

/** Whether a file is a migration dbguard cannot run (§18: a goose Go migration). */
export const isNotRunnable = (format: MigrationFormat, fileName: string): boolean => format.parseFileName(fileName)?.runnable === false;


/**
 * Builds the catalog from a directory listing. Files that are not migrations are ignored; names that
 * look like migrations but do not parse, and a version used twice in one direction, are errors;
 * an up without a down is a warning (it only blocks the rollback of that version).
 */
export function buildCatalog(fileNames: Iterable<string>, format: MigrationFormat): Catalog {
  const issues: CatalogIssue[] = [];
  const listed = format.index?.listed?.();
  if (listed !== undefined && listed.length > 0) {
    fileNames = [...fileNames];
    const present = new Set(fileNames);
    for (const file of listed) if (!present.has(file)) issues.push({ code: 'MIGRATION_FILE_MISSING', severity: 'error', file, index: format.index?.file ?? '' });
  }
  const files = new Map<bigint, { up: string[]; down: string[]; name: string; runnable: boolean }>();

  for (const fileName of fileNames) {
    const parsed = format.parseFileName(fileName);
    if (!parsed) {
      if (format.looksLikeMigration(fileName)) {
        issues.push({ code: 'MIGRATION_NAME_INVALID', severity: 'error', file: fileName, reason: format.invalidNameReason(fileName) });
      }
      continue;
    }
    let entry = files.get(parsed.version);
    if (!entry) {
      entry = { up: [], down: [], name: parsed.name, runnable: true };
      files.set(parsed.version, entry);
    }
    entry[parsed.direction].push(fileName);
    if (parsed.direction === 'up') {
      entry.name = parsed.name;
      entry.runnable = parsed.runnable !== false;
    }
  }

  const migrations: Migration[] = [];
  for (const [version, entry] of files) {
    if (entry.up.length > 1 || entry.down.length > 1) {
      const reused = [...(entry.up.length > 1 ? entry.up : []), ...(entry.down.length > 1 ? entry.down : [])];
      issues.push({ code: 'MIGRATION_VERSION_REUSED', severity: 'error', version, files: reused.sort() });
    }
    const up = entry.up[0];
    // One file holds both directions: whether it has a down section is its parse's to say. A tool
    // that writes no down SQL has none to miss.
    const down = format.noDownSql !== undefined ? undefined : format.singleFile ? up : entry.down[0];
    if (up !== undefined && down === undefined && format.noDownSql === undefined) {
      issues.push({ code: 'MIGRATION_DOWN_MISSING', severity: 'warning', version, file: up });
    }
    if (up === undefined && down !== undefined) {
      issues.push({ code: 'MIGRATION_UP_MISSING', severity: 'warning', version, file: down });
    }
    migrations.push({ version, name: entry.name, up, down, runnable: entry.runnable });
  }
  migrations.sort((a, b) => compareVersions(a.version, b.version));
  return { format, migrations, byVersion: new Map(migrations.map((m) => [m.version, m])), issues };
}

/** The errors among a catalog's issues (warnings excluded). */
export function catalogErrors(catalog: Catalog): CatalogIssue[] {
  return catalog.issues.filter((issue) => issue.severity === 'error');
}

/** A file name as it may be printed: one with a line break or another control character is quoted, escaped. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const shownName = (name: string) => (/[\x00-\x1f\x7f]/.test(name) ? JSON.stringify(name) : name);

/** Throws the first error-level issue: commands that change the database need a well-formed catalog. */
export function assertCatalogUsable(catalog: Catalog, dir: string): void {
  const issue = catalogErrors(catalog)[0];
  if (!issue) return;
  if (issue.code === 'MIGRATION_NAME_INVALID') {
    throw new DbguardError('MIGRATION_NAME_INVALID', `${shownName(issue.file)} in ${dir} looks like a migration but ${issue.reason}`, {
      hint: `rename it to ${catalog.format.expectedNames}, or move it out of ${dir}`, details: { file: issue.file },
    });
  }
  if (issue.code === 'MIGRATION_FILE_MISSING') {
    throw new DbguardError('MIGRATION_FILE_INVALID', `${issue.index} lists ${shownName(issue.file)}, which is not in ${dir}: ${catalog.format.name} cannot run the folder either`, {
      hint: `restore ${shownName(issue.file)} (git checkout -- ${dir}/${shownName(issue.file)}), or remove its entry from ${dir}/${issue.index}`, details: { file: issue.file },
    });
  }
  if (issue.code === 'MIGRATION_VERSION_REUSED') {
    throw new DbguardError('MIGRATION_VERSION_REUSED', `version ${issue.version} is used by more than one file: ${issue.files.map(shownName).join(', ')}`, {
      hint: 'give one of them a new version number', details: { version: issue.version.toString(), files: issue.files },
    });
  }
}
