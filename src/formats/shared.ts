/**
 * What the formats share: the tracking tables every tool keeps (to name another tool's table in an
 * error), one facts query, a literal that is safe whatever the session's settings, and the cutting
 * of a single-file migration into marked sections (DESIGN §15).
 */
import { DbguardError } from '../core/errors.js';
import type { Direction, ParsedMigrationName } from '../core/catalog.js';
import type { SchemaVersion } from '../core/plan.js';
import type { MigrationFormat } from '../core/format.js';
import { MAX_VERSION } from '../core/limits.js';

/** Every tool's table by name; `schema_migrations` is golang-migrate's and dbmate's, told by columns. */
export const TOOL_TABLES: Readonly<Record<string, string>> = {
  schema_migrations: 'golang-migrate or dbmate', gorp_migrations: 'sql-migrate', goose_db_version: 'goose', pgmigrations: 'node-pg-migrate',
  'drizzle.__drizzle_migrations': 'drizzle', _prisma_migrations: 'prisma',
};

/** The other tools whose tracking table a database may hold instead, by table name (for errors). */
export const otherToolOf = (table: string): string | null => TOOL_TABLES[table] ?? null;

/**
 * One query: the own table's presence and columns, and which other tools' tables are there. `at`: the
 * table as the tool names it, when it names its schema (node-pg-migrate's "public"."pgmigrations").
 */
export function trackingFactsSql(table: string, at = table): string {
  const others = Object.keys(TOOL_TABLES).filter((t) => t !== table).map((t) => `'${t}'`).join(', ');
  return `SELECT to_regclass('${at}') IS NOT NULL AS here,
  ARRAY(SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute
        WHERE attrelid = to_regclass('${at}') AND attnum > 0 AND NOT attisdropped ORDER BY attnum) AS columns,
  ARRAY(SELECT t FROM unnest(ARRAY[${others}]::text[]) t WHERE to_regclass(t) IS NOT NULL) AS others`;
}

/** golang-migrate's and dbmate's tables share the name `schema_migrations`: their columns tell whose one is. */
export function schemaMigrationsOwner(columns: readonly string[]): 'golang-migrate' | 'dbmate' | null {
  const joined = columns.join(',');
  if (/^version (bigint|integer),dirty boolean$/.test(joined)) return 'golang-migrate';
  return /^version character varying(\(\d+\))?$/.test(joined) ? 'dbmate' : null;
}

/** A tracking table that is not the format's own: what was found, and whose it is when that can be told. */
export const notOwnShape = (table: string, columns: readonly string[], tool: string | null): { found: string; tool: string | null } => (
  { found: `${table} here has the columns ${columns.join(', ') || '(none)'}`, tool });

/** An escape-string literal: its meaning does not depend on standard_conforming_strings. */
export const sqlLiteral = (text: string): string => `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** U+FFFD is what a name that is not UTF-8 decodes to; a control character cannot be printed or recorded safely. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const unusableName = (fileName: string): boolean => fileName.includes('\uFFFD') || /[\x00-\x1f\x7f]/.test(fileName);

export function unusableNameReason(fileName: string): string | null {
  if (fileName.includes('\uFFFD')) return 'name is not valid UTF-8';
  if (/[\n\r]/.test(fileName)) return 'name holds a line break';
  return unusableName(fileName) ? 'name holds a control character' : null;
}

/** golang-migrate's two-file names, which a single-file format must not read as its own. */
export const isPairName = (fileName: string): boolean => /\.(up|down)\.sql$/i.test(fileName);
export const PAIR_REASON = 'is golang-migrate\'s two-file layout (<version>_<name>.up.sql / .down.sql): set "format": "golang-migrate" in dbguard.config.json, or remove "format" to have it told from the files';

/**
 * A line of a repository's file as an error may quote it: control characters (a terminal escape a
 * hostile file could carry) shown as \u escapes, and at most 120 characters.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const quotedLine = (line: string): string => JSON.stringify(line.trim().slice(0, 120)).replace(/[\x00-\x1f\x7f-\x9f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** A marked file's problem: the file, the line, what was found and what the tool would do. */
export function markerError(tool: string, file: string, line: number, problem: string, fix: string): DbguardError {
  return new DbguardError('MIGRATION_FILE_INVALID', `${file} line ${line}: ${problem}`, {
    hint: `${fix}; ${tool} reads the file the same way, so it would fail or run the wrong SQL`, details: { file, line, format: tool },
  });
}

/** One line's meaning in a marked file. */
export type MarkerLine = { readonly kind: Direction; readonly noTransaction: boolean } | { readonly kind: 'other' } | null;

export interface Section {
  readonly direction: Direction;
  /** 1-based line of its marker. */
  readonly line: number;
  readonly noTransaction: boolean;
  /** The marker line and the lines up to the next marker. */
  readonly text: string;
}

/** Cuts a file into sections at its direction markers; what comes before the first marker is the preamble. */
export function cutSections(text: string, classify: (line: string, lineNo: number) => MarkerLine): { preamble: string[]; sections: Section[] } {
  const preamble: string[] = [];
  const sections: Array<{ direction: Direction; line: number; noTransaction: boolean; lines: string[] }> = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    const marker = classify(line.replace(/\r$/, ''), i + 1);
    if (marker !== null && marker.kind !== 'other') {
      sections.push({ direction: marker.kind, line: i + 1, noTransaction: marker.noTransaction, lines: [line] });
      continue;
    }
    (sections.at(-1)?.lines ?? preamble).push(line);
  }
  return { preamble, sections: sections.map((s) => ({ direction: s.direction, line: s.line, noTransaction: s.noTransaction, text: s.lines.join('\n') })) };
}

/** A blank down where the Down section is optional (goose, sql-migrate): none at all, or the marker with nothing under it. */
export const blankDownSection = (down: string): string => (down === '' ? 'no Down section' : 'an empty Down section');

/** Whether every line is blank or a `--` comment (what may precede the first marker). */
export const onlyComments = (lines: readonly string[]): boolean => lines.every((l) => /^\s*(--.*)?\s*$/.test(l));

/** How goose's and sql-migrate's parsers see a line of a section. */
export type StatementLine = 'begin' | 'end' | 'skip' | 'sql';

/**
 * What goose's and sql-migrate's parsers refuse in a section: a StatementBegin block left open, a last
 * statement without its semicolon. `prefix` is the tool's annotation ("-- +goose").
 */
export function checkStatements(text: string, firstLine: number, file: string, tool: { name: string; prefix: string; unfinishedNote?: string }, kindOf: (line: string, lineNo: number) => StatementLine): void {
  let open: number | null = null;
  let unfinished: number | null = null;
  for (const [i, line] of text.split('\n').entries()) {
    const kind = kindOf(line, firstLine + i);
    if (kind === 'begin') open = firstLine + i;
    else if (kind === 'end') { open = null; unfinished = null; }
    else if (kind === 'sql' && open === null) unfinished = endsStatement(line) ? null : firstLine + i;
  }
  if (open !== null) throw markerError(tool.name, file, open, `"${tool.prefix} StatementBegin" has no "${tool.prefix} StatementEnd"`, `close the block with "${tool.prefix} StatementEnd"`);
  if (unfinished !== null) throw markerError(tool.name, file, unfinished, `the last statement does not end with a semicolon${tool.unfinishedNote ?? ''}`, 'end it with ";" (or wrap it in StatementBegin / StatementEnd)');
}

/**
 * The last word before a `--` comment ends in `;`: goose's and sql-migrate's end of a statement (both
 * split a section so and refuse a last statement without one).
 */
function endsStatement(line: string): boolean {
  let last = '';
  for (const word of line.trim().split(/\s+/)) {
    if (word.startsWith('--')) break;
    if (word) last = word;
  }
  return last.endsWith(';');
}

/**
 * One file per version named `<digits><rest>.sql` (`pattern`: the digits, then the rest): the version
 * is the digits, the name the rest without its separator. golang-migrate's pair names are not one.
 */
export function leadingVersionParser(pattern: RegExp): (fileName: string) => ParsedMigrationName | null {
  return (fileName) => {
    const match = unusableName(fileName) || isPairName(fileName) ? null : pattern.exec(fileName);
    if (!match) return null;
    const version = BigInt(match[1] as string);
    if (version <= 0n || version > MAX_VERSION) return null;
    return { version, name: (match[2] as string).replace(/^[_-]/, '') || (match[1] as string), direction: 'up' };
  };
}

/** What every single-file format says of its files: the one file is both directions, found by its version. */
export function singleFileLayout(parseFileName: (fileName: string) => ParsedMigrationName | null, versionGlob: (version: bigint) => string) {
  return {
    parseFileName,
    singleFile: true,
    upSuffix: '.sql',
    isUpFile: (fileName: string) => parseFileName(fileName) !== null,
    downFileFor: (upFile: string) => upFile,
    upFileFor: (downFile: string) => downFile,
    downFilesGlob: '*.sql',
    upFileGlob: versionGlob,
  } satisfies Partial<MigrationFormat>;
}

/** An applied set as the applied state: its newest version on top, never dirty (these tools keep no flag); empty: null. */
export function setState(applied: ReadonlyMap<bigint, string | null>): SchemaVersion | null {
  if (applied.size === 0) return null;
  let top = 0n;
  for (const version of applied.keys()) if (version > top) top = version;
  return { version: top, dirty: false, applied };
}

/** Why a name with a leading version is not one: what every single-file format checks first. */
export function leadingVersionReason(fileName: string, withoutDigits: string): string {
  const unusable = unusableNameReason(fileName);
  if (unusable) return unusable;
  if (isPairName(fileName)) return PAIR_REASON;
  const digits = /^([0-9]+)/.exec(fileName)?.[1];
  if (digits === undefined) return withoutDigits;
  if (BigInt(digits) === 0n) return 'version must be above 0';
  if (BigInt(digits) > MAX_VERSION) return 'version does not fit a 64-bit integer (dbguard orders versions as numbers)';
  return 'name must match <version>_<name>.sql';
}
