/**
 * dbmate (DESIGN §15), from its source (pkg/dbmate/migration.go, pkg/driver/postgres): one file per
 * version, `^(\d+).*\.sql$`, the version the leading digits kept as text; `-- migrate:up` and
 * `-- migrate:down` at the start of a line, both required, options on the marker line
 * (`transaction:false`); its parser allows several up/down pairs, which it cannot apply on PostgreSQL. Each section is one Exec, in a
 * transaction with its row unless `transaction:false`. Table `schema_migrations(version varchar
 * primary key)` in the current schema: a set, one row per applied version. It applies pending
 * versions below the newest applied one too (`--strict` refuses them); it takes no lock.
 */
import type { SchemaVersion } from '../core/plan.js';
import { DbguardError } from '../core/errors.js';
import type { MigrationFormat } from '../core/format.js';
import { MAX_VERSION } from '../core/limits.js';
import { cutSections, leadingVersionParser, leadingVersionReason, markerError, notOwnShape, onlyComments, quotedLine, schemaMigrationsOwner, setState, singleFileLayout, trackingFactsSql, type MarkerLine } from './shared.js';

const FILE = /^([0-9]+)(.*)\.sql$/;
const TABLE = 'schema_migrations';
const UP = /^--\s*migrate:up(\s*$|\s+\S+)/;
const DOWN = /^--\s*migrate:down(\s*$|\s+\S+)/;
/** A line meant as a marker that dbmate would not read as one (indented, misspelt, upper case). */
const NEAR_MISS = /^\s*--\s*migrate\s*:\s*(up|down)\b/i;
const NO_TRANSACTION = /^--\s*migrate:(up|down)\s.*\btransaction:false\b/m;

const parseFileName = leadingVersionParser(FILE);

const invalidNameReason = (fileName: string): string => leadingVersionReason(fileName, 'name must match <version>_<name>.sql');

function classify(file: string) {
  return (line: string, lineNo: number): MarkerLine => {
    const up = UP.test(line);
    if (up || DOWN.test(line)) {
      const options = line.replace(/^--\s*migrate:(up|down)/, '').trim().split(/\s+/).filter(Boolean);
      return { kind: up ? 'up' : 'down', noTransaction: options.includes('transaction:false') };
    }
    if (NEAR_MISS.test(line)) {
      throw markerError('dbmate', file, lineNo, `${quotedLine(line)} is not a marker dbmate reads (it must start the line, in lower case: -- migrate:up / -- migrate:down), so dbmate would run it as part of the section above`, `write it as "-- migrate:${/down/i.test(line) ? 'down' : 'up'}" at the start of the line`);
    }
    return null;
  };
}

function sectionOf(text: string, direction: 'up' | 'down', file: string): string {
  const { preamble, sections } = cutSections(text, classify(file));
  const first = sections[0];
  if (!first || !sections.some((s) => s.direction === 'up')) {
    throw markerError('dbmate', file, 1, 'has no "-- migrate:up" line', 'start the migration with a "-- migrate:up" line, and its undo after "-- migrate:down"');
  }
  if (!onlyComments(preamble)) throw markerError('dbmate', file, 1, 'has SQL before its "-- migrate:up" line', 'move it below "-- migrate:up"');
  if (first.direction === 'down') throw markerError('dbmate', file, first.line, '"-- migrate:down" comes before "-- migrate:up"', 'put the up section first');
  for (const [i, section] of sections.entries()) {
    const next = sections[i + 1];
    if (section.direction === 'up' && next?.direction !== 'down') {
      throw markerError('dbmate', file, section.line, 'this "-- migrate:up" has no "-- migrate:down" after it (dbmate requires one per up)', 'add a "-- migrate:down" section with the SQL that undoes it');
    }
    if (section.direction === 'down' && sections[i - 1]?.direction !== 'up') {
      throw markerError('dbmate', file, section.line, 'a second "-- migrate:down" follows the first', 'merge the two down sections');
    }
  }
  const second = sections[2];
  if (second) {
    // Measured with dbmate 2.36.0 on PostgreSQL: it applies the first pair, then fails recording the
    // second (duplicate key in schema_migrations), and rolls the downs back in file order.
    throw markerError('dbmate', file, second.line, 'a second "-- migrate:up" pair: dbmate applies the first pair, then fails recording the second (its version is already in schema_migrations)', 'keep one up/down pair per file: move the second pair into a migration of its own');
  }
  return sections.find((s) => s.direction === direction)?.text ?? '';
}

function appliedFromRows(rows: ReadonlyArray<Record<string, unknown>>): SchemaVersion | null {
  const applied = new Map<bigint, string | null>();
  for (const row of rows) {
    const text = String(row.version);
    if (!/^[0-9]+$/.test(text) || BigInt(text) === 0n || BigInt(text) > MAX_VERSION) {
      throw new DbguardError('TRACKING_ROW_INVALID', `${TABLE} holds the version ${JSON.stringify(text)}, which no dbmate migration file can have; dbguard changed nothing`, {
        hint: `delete that row from ${TABLE} if no migration made it (psql), then dbguard status`, details: { table: TABLE, version: text },
      });
    }
    if (applied.has(BigInt(text))) {
      throw new DbguardError('TRACKING_ROW_INVALID', `${TABLE} holds version ${BigInt(text)} twice, written with different leading zeros; dbguard changed nothing`, {
        hint: `delete the row no file has from ${TABLE} (psql), then dbguard status`, details: { table: TABLE, version: text },
      });
    }
    applied.set(BigInt(text), text);
  }
  return setState(applied);
}

/** The version as the file writes it: leading zeros count for dbmate. */
const versionText = (filename: string, version: bigint): string => /^([0-9]+)/.exec(filename)?.[1] ?? version.toString();

export const dbmate: MigrationFormat = {
  name: 'dbmate',
  ...singleFileLayout(parseFileName, (version) => `*${version}*.sql`),
  looksLikeMigration: (fileName) => /^[0-9]/.test(fileName) && /\.sql$/i.test(fileName),
  invalidNameReason,
  expectedNames: '<version>_<name>.sql (with -- migrate:up and -- migrate:down sections)',
  renameIsNewMigration: false,
  filesFor: (stem, up, down) => ({ [`${stem}.sql`]: `-- migrate:up\n${up}\n\n-- migrate:down\n${down}\n` }),
  sectionOf,
  noTransactionRunsWhole: true,
  declaresNoTransaction: (sql) => NO_TRANSACTION.test(sql),
  blankDown: () => 'an empty down section',

  trackingTable: TABLE,
  trackingFactsSql: trackingFactsSql(TABLE),
  shapeProblem(columns) {
    const owner = schemaMigrationsOwner(columns);
    return owner === 'dbmate' ? null : notOwnShape(TABLE, columns, owner);
  },
  createTableSql: `CREATE TABLE IF NOT EXISTS ${TABLE} (version varchar PRIMARY KEY)`,
  readAppliedSql: `SELECT version FROM ${TABLE}`,
  appliedFromRows,
  fileOfId: () => null,
  idMatches: (id, filename) => versionText(filename, BigInt(id)) === id,
  recordApplySql: (m) => `INSERT INTO ${TABLE} (version) VALUES ('${versionText(m.filename, m.version)}');`,
  // By value, so a row written with other leading zeros (by hand) goes too.
  recordUnapplySql: (m) => `DELETE FROM ${TABLE} WHERE version ~ '^[0-9]+$' AND version::numeric = ${m.version};`,
  outOfOrder: 'applied',
  lockKeys: () => [],
};
