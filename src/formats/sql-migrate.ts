/**
 * sql-migrate (DESIGN §15), from its source (migrate.go, sqlparse/sqlparse.go; gorp's Postgres
 * dialect): any `*.sql` file, its id the whole file name, ordered by its numeric prefix; commands are
 * lines starting `-- +migrate ` (Up, Down, StatementBegin, StatementEnd), `notransaction` after Up or
 * Down; a statement ends where a line's last word ends in `;`. Each migration runs in a transaction
 * with its record unless notransaction. Table `gorp_migrations(id text primary key, applied_at
 * timestamptz)`: a set of file names, so a rename is a new migration to it. Holes below the newest
 * applied are applied (ToCatchup); it takes no lock.
 */
import type { SchemaVersion } from '../core/plan.js';
import { DbguardError } from '../core/errors.js';
import type { MigrationFormat } from '../core/format.js';
import { checkStatements, blankDownSection, cutSections, leadingVersionParser, leadingVersionReason, markerError, notOwnShape, quotedLine, setState, singleFileLayout, sqlLiteral, trackingFactsSql, type MarkerLine, type StatementLine } from './shared.js';

const FILE = /^([0-9]+)(.*)\.sql$/;
const TABLE = 'gorp_migrations';
const COMMAND = '-- +migrate ';
const NEAR_MISS = /^\s*--\s*\+\s*migrate\b/i;
const NO_TRANSACTION = /^-- \+migrate (Up|Down)\b.*\bnotransaction\b/m;

const parseFileName = leadingVersionParser(FILE);

const invalidNameReason = (fileName: string): string => leadingVersionReason(fileName, 'has no numeric prefix: sql-migrate orders such files by name after the numbered ones, and dbguard orders migrations by number only');

const commandOf = (line: string): string[] | null => (line.startsWith(COMMAND) ? line.slice(COMMAND.length).trim().split(/\s+/).filter(Boolean) : null);

function classify(file: string) {
  return (line: string, lineNo: number): MarkerLine => {
    const fields = commandOf(line);
    if (fields?.[0] === 'Up' || fields?.[0] === 'Down') return { kind: fields[0] === 'Up' ? 'up' : 'down', noTransaction: fields.includes('notransaction') };
    if (fields?.[0] === 'StatementBegin' || fields?.[0] === 'StatementEnd') return { kind: 'other' };
    if (NEAR_MISS.test(line)) {
      throw markerError('sql-migrate', file, lineNo, `${quotedLine(line)} is not a command sql-migrate reads (it must start the line as "-- +migrate Up", "-- +migrate Down", "-- +migrate StatementBegin" or "-- +migrate StatementEnd")`, 'write the command exactly so, at the start of the line');
    }
    return null;
  };
}

const SQL_MIGRATE = { name: 'sql-migrate', prefix: '-- +migrate' };

/** A line as sql-migrate's parser sees it: its comment lines ("-- " but not "-- +") are dropped. */
function statementLine(line: string): StatementLine {
  const fields = commandOf(line);
  if (fields?.[0] === 'StatementBegin') return 'begin';
  if (fields?.[0] === 'StatementEnd') return 'end';
  return fields || line.startsWith('-- ') || line.trim() === '' ? 'skip' : 'sql';
}

function sectionOf(text: string, direction: 'up' | 'down', file: string): string {
  const { sections } = cutSections(text, classify(file));
  if (sections.length === 0) throw markerError('sql-migrate', file, 1, 'has no "-- +migrate Up" or "-- +migrate Down" line, so sql-migrate runs nothing of it', 'put "-- +migrate Up" before its SQL and "-- +migrate Down" before the undo');
  for (const section of sections) checkStatements(section.text, section.line, file, SQL_MIGRATE, statementLine);
  return sections.filter((s) => s.direction === direction).map((s) => s.text).join('\n');
}

function appliedFromRows(rows: ReadonlyArray<Record<string, unknown>>): SchemaVersion | null {
  const applied = new Map<bigint, string | null>();
  for (const row of rows) {
    const id = String(row.id);
    const parsed = parseFileName(id);
    if (!parsed) {
      throw new DbguardError('TRACKING_ROW_INVALID', `${TABLE} lists ${JSON.stringify(id)}, which has no numeric prefix dbguard can order; dbguard changed nothing`, {
        hint: 'give the migration a numbered name (and its row the same id), then dbguard status', details: { table: TABLE, id },
      });
    }
    const other = applied.get(parsed.version);
    if (other) {
      throw new DbguardError('TRACKING_ROW_INVALID', `${TABLE} lists two migrations of version ${parsed.version}: ${other} and ${id}; dbguard orders migrations by number and changed nothing`, {
        hint: `roll one back with sql-migrate down, or give it a new number, then dbguard status`, details: { table: TABLE, ids: [other, id] },
      });
    }
    applied.set(parsed.version, id);
  }
  return setState(applied);
}

export const sqlMigrate: MigrationFormat = {
  name: 'sql-migrate',
  ...singleFileLayout(parseFileName, (version) => `*${version}*.sql`),
  looksLikeMigration: (fileName) => /\.sql$/i.test(fileName),
  invalidNameReason,
  expectedNames: '<version>_<name>.sql (with -- +migrate Up and -- +migrate Down sections)',
  renameIsNewMigration: true,
  filesFor: (stem, up, down) => ({ [`${stem}.sql`]: `-- +migrate Up\n${up}\n\n-- +migrate Down\n${down}\n` }),
  sectionOf,
  noTransactionRunsWhole: false,
  declaresNoTransaction: (sql) => NO_TRANSACTION.test(sql),
  blankDown: blankDownSection,

  trackingTable: TABLE,
  trackingFactsSql: trackingFactsSql(TABLE),
  shapeProblem(columns) {
    if (/^id text,applied_at timestamp with time zone$/.test(columns.join(','))) return null;
    return notOwnShape(TABLE, columns, null);
  },
  createTableSql: `CREATE TABLE IF NOT EXISTS ${TABLE} (id text NOT NULL PRIMARY KEY, applied_at timestamp with time zone)`,
  readAppliedSql: `SELECT id FROM ${TABLE}`,
  appliedFromRows,
  fileOfId: (id) => id,
  idMatches: (id, filename) => id === filename,
  recordApplySql: (m) => `INSERT INTO ${TABLE} (id, applied_at) VALUES (${sqlLiteral(m.filename)}, now());`,
  recordUnapplySql: (m) => `DELETE FROM ${TABLE} WHERE id = ${sqlLiteral(m.filename)};`,
  outOfOrder: 'applied',
  lockKeys: () => [],
};
