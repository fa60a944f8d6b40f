/**
 * goose v3, SQL migrations (DESIGN §15), from its source (internal/sqlparser/parser.go, migration.go,
 * internal/dialects/postgres.go, up.go): `<version>_<name>.sql`, the version an int64 before the first
 * `_`; annotations are lines `-- +goose Up|Down|StatementBegin|StatementEnd|NO TRANSACTION|ENVSUB ON|
 * ENVSUB OFF` (any case, no leading whitespace), Up first and required, Down optional; a statement ends
 * where a line's last word ends in `;`. NO TRANSACTION holds for the whole file; ENVSUB ON replaces
 * ${VAR} (and ${VAR:-default}) from the environment until ENVSUB OFF. Table `goose_db_version(id,
 * version_id bigint, is_applied boolean, tstamp)` with a version-0 row from its creation: rows, the
 * newest per version deciding (old goose wrote is_applied = false on down; v3 deletes). A pending
 * version below the newest applied one is refused (`-allow-missing`); the CLI takes no lock.
 */
import type { ParsedMigrationName } from '../core/catalog.js';
import type { SchemaVersion } from '../core/plan.js';
import type { MigrationFormat } from '../core/format.js';
import { checkStatements, blankDownSection, cutSections, leadingVersionParser, leadingVersionReason, markerError, notOwnShape, quotedLine, setState, singleFileLayout, trackingFactsSql, type MarkerLine, type StatementLine } from './shared.js';

const FILE = /^([0-9]+)(_.*)\.sql$/;
/** A Go migration (goose.AddMigrationContext in the file, compiled into the project's goose binary); its tests are not. */
const GO_FILE = /^([0-9]+)(_.*)\.go$/;
const parseSql = leadingVersionParser(FILE);
const parseGo = leadingVersionParser(GO_FILE);

function parseFileName(fileName: string): ParsedMigrationName | null {
  const sql = parseSql(fileName);
  if (sql !== null || fileName.endsWith('_test.go')) return sql;
  const go = parseGo(fileName);
  return go === null ? null : { ...go, runnable: false };
}
const TABLE = 'goose_db_version';
const NO_TRANSACTION_LINE = '-- +goose NO TRANSACTION';
const SECRET_VARIABLE = /^(PG[A-Z]*|DBGUARD_.*|DATABASE_URL)$/;


const invalidNameReason = (fileName: string): string => leadingVersionReason(fileName, 'name must start with a numeric version followed by "_"');

/** The annotation a line holds ("up", "statementbegin", …), or null for SQL and plain comments. */
function annotationOf(line: string, file: string, lineNo: number): string | null {
  if (!line.trim().startsWith('--') || !line.includes('+goose')) return null;
  if (/^\s/.test(line)) throw markerError('goose', file, lineNo, `${quotedLine(line)} has leading whitespace, which goose refuses`, 'start the annotation at the beginning of the line');
  return line.replace(/^(--)+/, '').trim().replace(/^\+goose/, '').trim().toLowerCase().replace(/\s+/g, ' ');
}

const KNOWN = new Set(['up', 'down', 'statementbegin', 'statementend', 'no transaction', 'envsub on', 'envsub off']);

function classify(file: string) {
  return (line: string, lineNo: number): MarkerLine => {
    const annotation = annotationOf(line, file, lineNo);
    if (annotation === null) return null;
    if (!KNOWN.has(annotation)) throw markerError('goose', file, lineNo, `${quotedLine(line)} is not an annotation goose knows`, 'use -- +goose Up, Down, StatementBegin, StatementEnd, NO TRANSACTION or ENVSUB ON / OFF');
    if (annotation === 'up' || annotation === 'down') return { kind: annotation, noTransaction: false };
    return { kind: 'other' };
  };
}

const GOOSE = { name: 'goose', prefix: '-- +goose', unfinishedNote: ' (goose: "missing semicolon?")' };

/** A line as goose's statement splitter sees it. */
function statementLine(file: string) {
  return (line: string, lineNo: number): StatementLine => {
    const annotation = annotationOf(line, file, lineNo);
    if (annotation === 'statementbegin') return 'begin';
    if (annotation === 'statementend') return 'end';
    return annotation !== null || /^\s*--/.test(line) || line.trim() === '' ? 'skip' : 'sql';
  };
}

/** ENVSUB ON … OFF: ${VAR} and ${VAR:-default} from the environment, as goose substitutes them. */
function substituted(text: string, env: Readonly<Record<string, string | undefined>>, file: string): string {
  let on = false;
  return text.split('\n').map((line, i) => {
    const annotation = annotationOf(line, file, i + 1);
    if (annotation === 'envsub on') on = true;
    if (annotation === 'envsub off') on = false;
    if (!on || annotation !== null) return line;
    return line.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_all, name: string, fallback: string | undefined) => {
      // A repository's file must not put dbguard's connection secrets into SQL (a down from git history
      // runs on checkout): libpq's PG* variables, dbguard's own, and the URL handed to the app.
      if (SECRET_VARIABLE.test(name)) throw markerError('goose', file, i + 1, `ENVSUB names \${${name}}, which holds how dbguard connects; dbguard does not put it into SQL`, 'name a variable of your own in the migration');
      return env[name] || fallback || '';
    });
  }).join('\n');
}

function sectionOf(text: string, direction: 'up' | 'down', file: string, env: Readonly<Record<string, string | undefined>> = {}): string {
  // ENVSUB holds from its line to ENVSUB OFF across the whole file, Up and Down alike, as goose's parser keeps it.
  const { preamble, sections } = cutSections(substituted(text, env, file), classify(file));
  const sqlBefore = preamble.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('--'));
  if (sections[0]?.direction !== 'up' || sqlBefore >= 0) {
    throw markerError('goose', file, sqlBefore >= 0 ? sqlBefore + 1 : (sections[0]?.line ?? 1), 'goose requires the file to start with a "-- +goose Up" annotation', 'put "-- +goose Up" before the first statement');
  }
  const ups = sections.filter((s) => s.direction === 'up');
  const downs = sections.filter((s) => s.direction === 'down');
  if (ups.length > 1) throw markerError('goose', file, (ups[1] as { line: number }).line, 'a second "-- +goose Up" annotation (goose refuses duplicates)', 'merge the two Up sections');
  if (downs.length > 1) throw markerError('goose', file, (downs[1] as { line: number }).line, 'a second "-- +goose Down" annotation (goose refuses duplicates)', 'merge the two Down sections');
  for (const section of sections) checkStatements(section.text, section.line, file, GOOSE, statementLine(file));
  const noTransaction = text.split('\n').some((l) => annotationOf(l.replace(/\r$/, ''), file, 0) === 'no transaction');
  const section = (direction === 'up' ? ups[0] : downs[0])?.text ?? '';
  return noTransaction && section ? `${NO_TRANSACTION_LINE}\n${section}` : section;
}

function appliedFromRows(rows: ReadonlyArray<Record<string, unknown>>): SchemaVersion | null {
  // Newest first (ORDER BY id DESC): the first row seen of a version decides; version 0 is the table's birth.
  const seen = new Set<bigint>();
  const applied = new Map<bigint, string | null>();
  for (const row of rows) {
    const version = BigInt(String(row.version));
    if (seen.has(version)) continue;
    seen.add(version);
    if (version > 0n && row.is_applied === true) applied.set(version, null);
  }
  return setState(applied);
}

export const goose: MigrationFormat = {
  name: 'goose',
  // The version's file may be SQL or Go: each name found is parsed.
  ...singleFileLayout(parseFileName, (version) => `*${version}_*`),
  looksLikeMigration: (fileName) => /^[0-9]+_.*\.(sql|go)$/i.test(fileName) && !fileName.endsWith('_test.go'),
  invalidNameReason,
  expectedNames: '<version>_<name>.sql (with -- +goose Up and -- +goose Down sections) or <version>_<name>.go',
  renameIsNewMigration: false,
  notRunnable: {
    what: 'a Go migration',
    runWith: 'goose up   (the project\'s own goose binary, which has its Go migrations compiled in)',
    undoWith: 'on a branch that has it, the project\'s own goose binary rolls it back (goose down-to <the version below it>)',
  },
  filesFor: (stem, up, down) => ({ [`${stem}.sql`]: `-- +goose Up\n${up}\n\n-- +goose Down\n${down}\n` }),
  sectionOf,
  noTransactionRunsWhole: false,
  declaresNoTransaction: (sql) => sql.startsWith(NO_TRANSACTION_LINE),
  blankDown: blankDownSection,

  trackingTable: TABLE,
  trackingFactsSql: trackingFactsSql(TABLE),
  shapeProblem(columns) {
    const joined = columns.join(',');
    if (/(^|,)version_id bigint(,|$)/.test(joined) && /(^|,)is_applied boolean(,|$)/.test(joined) && /(^|,)id integer(,|$)/.test(joined)) return null;
    return notOwnShape(TABLE, columns, null);
  },
  // Created with its version-0 row, in one statement, as goose does in one transaction.
  createTableSql: `DO $dbguard$ BEGIN
  IF to_regclass('${TABLE}') IS NULL THEN
    CREATE TABLE ${TABLE} (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now());
    INSERT INTO ${TABLE} (version_id, is_applied) VALUES (0, true);
  END IF;
END $dbguard$`,
  readAppliedSql: `SELECT version_id::text AS version, is_applied FROM ${TABLE} ORDER BY id DESC`,
  appliedFromRows,
  fileOfId: () => null,
  idMatches: () => true,
  recordApplySql: (m) => `INSERT INTO ${TABLE} (version_id, is_applied) VALUES (${m.version}, true);`,
  recordUnapplySql: (m) => `DELETE FROM ${TABLE} WHERE version_id = ${m.version};`,
  outOfOrder: 'refused',
  lockKeys: () => [],
};
