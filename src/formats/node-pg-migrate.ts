/**
 * node-pg-migrate 9 (DESIGN §15, §18), from its source (src/migration.ts, sqlMigration.ts, runner.ts,
 * utils/fileNameUtils.ts; npm dist/bundle checked): every file in `migrations/` is a migration, ordered
 * by its leading number, and its id (`name`) is the file name without its extension. A `.sql` file is
 * cut at the first line matching `^\s*--[\s-]*up\s+migration` (any case) and the first matching
 * `down`: each section runs from its marker to the other one (or the end), marker line included; no up
 * marker makes the whole file the up, no down marker leaves no down. A section is one query, in the
 * run's transaction with its row; SQL files have no way out of it. JavaScript and TypeScript files are
 * migrations dbguard cannot run (§18). Table `"public"."pgmigrations"(id serial, name varchar(255),
 * run_on timestamp)`: one row per applied name, `run_on = NOW()`, read in `run_on, id` order, and
 * `checkOrder` (on by default) refuses any file missing below an applied one. Lock: a session advisory
 * lock on 7241865325823964.
 */
import type { ParsedMigrationName } from '../core/catalog.js';
import type { SchemaVersion } from '../core/plan.js';
import { DbguardError } from '../core/errors.js';
import type { MigrationFormat } from '../core/format.js';
import { leadingVersionParser, leadingVersionReason, markerError, notOwnShape, quotedLine, setState, singleFileLayout, sqlLiteral, trackingFactsSql } from './shared.js';

const TOOL = 'node-pg-migrate';
const TABLE = 'pgmigrations';
/** The schema and table as the tool names them (its `schema` option's default, `public`, quoted). */
const QUALIFIED = `"public"."${TABLE}"`;
/** runner.ts PG_MIGRATE_LOCK_ID: `pg_try_advisory_lock(7241865325823964)` for the whole run. */
const LOCK_KEY = '7241865325823964';

/** sqlMigration.ts createMigrationCommentRegex: searched in the whole text, so `^` is any line start. */
const markerOf = (direction: 'up' | 'down'): RegExp => new RegExp(`^\\s*--[\\s-]*${direction}\\s+migration`, 'im');
const UP = markerOf('up');
const DOWN = markerOf('down');
/** A line meant as a marker that the tool does not read as one ("-- Up-Migration", "--UpMigration"). */
const NEAR_MISS = /^\s*--[\s-]*(up|down)[\s_:-]*migration/i;

const SQL_FILE = /^([0-9]+)(.*)\.sql$/;
/** migrationLoader.ts: these run through its JavaScript loader (jiti), which dbguard is not. */
const SCRIPT_FILE = /^([0-9]+)(.*)\.(js|cjs|mjs|ts|cts|mts)$/;
const parseSql = leadingVersionParser(SQL_FILE);
const parseScript = leadingVersionParser(SCRIPT_FILE);

function parseFileName(fileName: string): ParsedMigrationName | null {
  const sql = parseSql(fileName);
  if (sql !== null || fileName.endsWith('.d.ts')) return sql;
  const script = parseScript(fileName);
  return script === null ? null : { ...script, runnable: false };
}

/** migration.ts: `this.name = basename(migrationPath, extname(migrationPath))`. */
const nameOf = (fileName: string): string => fileName.replace(/\.[^.]*$/, '');

const invalidNameReason = (fileName: string): string => leadingVersionReason(fileName, `has no numeric prefix: ${TOOL} stops at it ("Cannot determine numeric prefix")`);

/** The 1-based line an offset of the text falls on, past the blank lines a marker's `^\s*` spans. */
function lineAt(text: string, offset: number): number {
  const start = offset + (/^\s*/.exec(text.slice(offset))?.[0].lastIndexOf('\n') ?? -1) + 1;
  return text.slice(0, start).split('\n').length;
}

/** A file whose markers the tool would read otherwise than its author meant: the file and line named. */
function checkMarkers(text: string, file: string, upAt: number, downAt: number): void {
  const lines = text.split('\n');
  const upLine = upAt < 0 ? 0 : lineAt(text, upAt);
  const downLine = downAt < 0 ? 0 : lineAt(text, downAt);
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '');
    const lineNo = i + 1;
    const up = UP.test(line);
    if (!up && !DOWN.test(line)) {
      if (NEAR_MISS.test(line)) {
        throw markerError(TOOL, file, lineNo, `${quotedLine(line)} is not a marker ${TOOL} reads (it reads "-- Up Migration" and "-- Down Migration": "--", then "up" or "down", a space, then "migration")`, `write it as "-- ${/down/i.test(line) ? 'Down' : 'Up'} Migration"`);
      }
      continue;
    }
    if (lineNo === upLine || lineNo === downLine) continue;
    // A later marker is only text to the tool, which cuts at the first of each: in the other section it runs the wrong way.
    const inUp = upLine > 0 && lineNo > upLine && (downLine < upLine || lineNo < downLine);
    if (up === inUp) continue;
    throw markerError(TOOL, file, lineNo, `a second "-- ${up ? 'Up' : 'Down'} Migration" line: ${TOOL} cuts at the first one only, so it runs the lines below this one as part of the ${inUp ? 'Up' : 'Down'} section`, 'keep one "-- Up Migration" and one "-- Down Migration" per file');
  }
  if (upAt < 0 && downAt >= 0) {
    throw markerError(TOOL, file, downLine, `has a "-- Down Migration" line but no "-- Up Migration" line, so ${TOOL} runs the whole file, down section included, as the up`, 'put "-- Up Migration" before the SQL that applies it');
  }
  const first = Math.min(...[upAt, downAt].filter((at) => at >= 0));
  const sqlBefore = Number.isFinite(first) ? lines.slice(0, lineAt(text, first) - 1).findIndex((l) => !/^\s*(--.*)?$/.test(l)) : -1;
  if (sqlBefore >= 0) {
    throw markerError(TOOL, file, sqlBefore + 1, `has SQL before its first marker, which ${TOOL} runs in neither direction`, 'move it below "-- Up Migration"');
  }
}

/** sqlMigration.ts getActions, exactly: each section from its marker to the other marker, or the end. */
function sectionOf(text: string, direction: 'up' | 'down', file: string): string {
  // A script read from git history (a phantom) has no SQL sections: its down is the tool's to run, never "none".
  if (parseFileName(file)?.runnable === false) {
    throw new DbguardError('MIGRATION_FILE_INVALID', `${file} is a JavaScript or TypeScript migration, which dbguard cannot run`, {
      hint: `run it with ${TOOL} itself`, details: { file, format: TOOL },
    });
  }
  const upAt = text.search(UP);
  const downAt = text.search(DOWN);
  checkMarkers(text, file, upAt, downAt);
  if (direction === 'up') return upAt >= 0 ? text.slice(upAt, downAt < upAt ? undefined : downAt) : text;
  return downAt >= 0 ? text.slice(downAt, upAt < downAt ? undefined : upAt) : '';
}

function appliedFromRows(rows: ReadonlyArray<Record<string, unknown>>): SchemaVersion | null {
  const applied = new Map<bigint, string | null>();
  for (const row of rows) {
    const name = String(row.name);
    const version = parseSql(`${name}.sql`)?.version;
    if (version === undefined) {
      throw new DbguardError('TRACKING_ROW_INVALID', `${TABLE} lists ${JSON.stringify(name)}, which has no numeric prefix dbguard can order; dbguard changed nothing`, {
        hint: `delete that row from ${TABLE} if no migration made it (psql), then dbguard status`, details: { table: TABLE, name },
      });
    }
    const other = applied.get(version);
    if (other !== undefined) {
      throw new DbguardError('TRACKING_ROW_INVALID', other === name
        ? `${TABLE} lists ${JSON.stringify(name)} twice; ${TOOL}'s order check refuses such a table, and dbguard changed nothing`
        : `${TABLE} lists two migrations of version ${version}: ${other} and ${name}; dbguard orders migrations by number and changed nothing`, {
        hint: `delete the row no migration made from ${TABLE} (psql), then dbguard status`, details: { table: TABLE, names: [other, name] },
      });
    }
    applied.set(version, name);
  }
  return setState(applied);
}

export const nodePgMigrate: MigrationFormat = {
  name: TOOL,
  // The version's file may be SQL or a script: each name found is parsed.
  ...singleFileLayout(parseFileName, (version) => `*${version}*`),
  looksLikeMigration: (fileName) => /\.(sql|js|cjs|mjs|ts|cts|mts)$/i.test(fileName) && !fileName.startsWith('.') && !fileName.endsWith('.d.ts'),
  invalidNameReason,
  expectedNames: '<timestamp>_<name>.sql (with -- Up Migration and -- Down Migration sections)',
  // The name is the id, and the order check compares names position by position: a renamed applied
  // file makes the tool refuse the table, which dbguard names (the row's name, not its file's).
  renameIsNewMigration: false,
  notRunnable: {
    what: 'a JavaScript or TypeScript migration',
    runWith: `npx ${TOOL} up   (it loads the script with its own runtime)`,
    undoWith: `on a branch that has it, npx ${TOOL} down rolls it back`,
  },
  filesFor: (stem, up, down) => ({ [`${stem}.sql`]: `-- Up Migration\n${up}\n\n-- Down Migration\n${down}\n` }),
  sectionOf,
  // One `pgm.sql(section)` is one query, so outside a transaction it still runs as one.
  noTransactionRunsWhole: true,
  declaresNoTransaction: () => false,
  blankDown: (down) => (down === '' ? 'no Down Migration section' : 'an empty Down Migration section'),

  trackingTable: TABLE,
  trackingFactsSql: trackingFactsSql(TABLE, QUALIFIED),
  shapeProblem(columns) {
    if (/^id integer,name character varying(\(\d+\))?,run_on timestamp without time zone$/.test(columns.join(','))) return null;
    return notOwnShape(TABLE, columns, null);
  },
  createTableSql: `CREATE TABLE IF NOT EXISTS ${QUALIFIED} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)`,
  readAppliedSql: `SELECT name FROM ${QUALIFIED} ORDER BY run_on, id`,
  appliedFromRows,
  fileOfId: () => null,
  idMatches: (id, filename) => id === nameOf(filename),
  recordApplySql: (m) => `INSERT INTO ${QUALIFIED} (name, run_on) VALUES (${sqlLiteral(nameOf(m.filename))}, NOW());`,
  // By the version its name starts with: the tool's row of it whatever file dbguard knows it by (one per version, appliedFromRows holds).
  recordUnapplySql: (m) => `DELETE FROM ${QUALIFIED} WHERE substring(name from '^[0-9]+')::numeric = ${m.version};`,
  outOfOrder: 'refused',
  lockKeys: () => [LOCK_KEY],
};
