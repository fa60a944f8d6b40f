/**
 * Drizzle Kit, with drizzle-orm's migrator (DESIGN §15), from drizzle-orm 0.45 (migrator.js,
 * pg-core/dialect.js) and drizzle-kit 0.31 (bin.cjs): `<out>/meta/_journal.json` lists the
 * migrations, `entries: [{ idx, when, tag, breakpoints }]`, each the file `<out>/<tag>.sql` (drizzle-kit
 * names it `<idx, 4 digits>_<words>`); a file splits into statements at `--> statement-breakpoint`, an
 * SQL comment to PostgreSQL. No down SQL. Table `drizzle.__drizzle_migrations(id serial, hash text, created_at
 * bigint)`: one row per run migration, hash = sha256 of the file's text, created_at = the journal's
 * `when` (not the time it ran). The migrator reads only the newest created_at and runs the entries
 * whose `when` is above it, all in one transaction: an entry below it that never ran is skipped
 * forever. No lock.
 *
 * dbguard's version of a migration is its `when`: positive, ordered as drizzle-kit wrote the entries,
 * and exactly what the table records, so a row names its migration even on a branch whose journal
 * lacks it (idx would not: two branches each add their own 0001). The journal gives it; the adapters
 * read the journal and bind this format to it.
 */
import { DbguardError } from '../core/errors.js';
import type { FolderIndex, MigrationFormat, ParsedMigrationName, SchemaVersion } from '../core/format.js';
import { MAX_VERSION } from '../core/limits.js';
import { notOwnShape, setState, sqlLiteral, trackingFactsSql, unusableName } from './shared.js';

const JOURNAL = 'meta/_journal.json';
const TABLE = 'drizzle.__drizzle_migrations';
const QUOTED_TABLE = '"drizzle"."__drizzle_migrations"';

function journalInvalid(problem: string): DbguardError {
  return new DbguardError('MIGRATION_FILE_INVALID', `${JOURNAL} ${problem}`, {
    hint: `fix ${JOURNAL} (drizzle-kit generate writes it; drizzle-orm's migrator cannot read it either)`, details: { file: JOURNAL, format: 'drizzle' },
  });
}

/** The journal as drizzle-orm reads it: entries in order, each `<tag>.sql` and its `when`. */
function readJournal(text: string): ReadonlyMap<string, bigint> {
  let journal: unknown;
  try {
    journal = JSON.parse(text);
  } catch (error) {
    throw journalInvalid(`is not valid JSON (${(error as Error).message})`);
  }
  const entries = (journal as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries)) throw journalInvalid('has no "entries" list');
  const versions = new Map<string, bigint>();
  for (const [i, entry] of entries.entries()) {
    const { tag, when } = (entry ?? {}) as { tag?: unknown; when?: unknown };
    if (typeof tag !== 'string' || tag === '') throw journalInvalid(`entry ${i} has no "tag"`);
    if (typeof when !== 'number' || !Number.isSafeInteger(when) || when <= 0 || BigInt(when) > MAX_VERSION) throw journalInvalid(`entry ${i} (${JSON.stringify(tag).slice(0, 80)}) has no positive whole "when"`);
    const file = `${tag}.sql`;
    if (versions.has(file)) throw journalInvalid(`lists ${JSON.stringify(tag).slice(0, 80)} twice`);
    versions.set(file, BigInt(when));
  }
  return versions;
}

function appliedFromRows(rows: ReadonlyArray<Record<string, unknown>>): SchemaVersion | null {
  const applied = new Map<bigint, string | null>();
  for (const row of rows) {
    const text = row.created_at === null || row.created_at === undefined ? null : String(row.created_at);
    if (text === null || !/^[0-9]+$/.test(text) || BigInt(text) === 0n || BigInt(text) > MAX_VERSION) {
      throw new DbguardError('TRACKING_ROW_INVALID', `${TABLE} holds a row (id ${String(row.id)}) whose created_at is ${text ?? 'NULL'}, which no journal entry's "when" can be; dbguard changed nothing`, {
        hint: `delete that row from ${TABLE} if no migration made it (psql), then dbguard status`, details: { table: TABLE, id: String(row.id), createdAt: text },
      });
    }
    applied.set(BigInt(text), null);
  }
  return setState(applied);
}

const notInJournal = 'is not in meta/_journal.json: drizzle-orm\'s migrator runs only the journal\'s entries';

/** The format bound to a journal's file → version map (an empty one: no journal yet). */
export function drizzleFormat(versions: () => ReadonlyMap<string, bigint>): MigrationFormat {
  const parseFileName = (fileName: string): ParsedMigrationName | null => {
    const version = unusableName(fileName) ? undefined : versions().get(fileName);
    if (version === undefined) return null;
    const tag = fileName.slice(0, -'.sql'.length);
    return { version, name: tag.replace(/^[0-9]+_/, '') || tag, direction: 'up' };
  };
  const format: MigrationFormat = {
    name: 'drizzle',
    parseFileName,
    // A file the journal does not list is not a migration to drizzle-orm: left alone, as it leaves it.
    looksLikeMigration: () => false,
    invalidNameReason: () => notInJournal,
    expectedNames: '<idx>_<name>.sql listed in meta/_journal.json (drizzle-kit generate writes both)',
    singleFile: true,
    upSuffix: '.sql',
    // Any .sql file of the folder: one another branch's journal lists (taken away by a checkout) is one too.
    isUpFile: (fileName) => fileName.endsWith('.sql') && !fileName.includes('/'),
    downFileFor: (upFile) => upFile,
    upFileFor: (downFile) => downFile,
    // There are no down files: the globs match nothing a history search would read.
    downFilesGlob: 'meta/_journal.json',
    upFileGlob: () => '*.sql',
    renameIsNewMigration: false,
    noDownSql: 'Drizzle Kit writes no down SQL',
    index: { ...index, listed: () => [...versions().keys()] },
    filesFor: (stem, up) => ({ [`${stem}.sql`]: `${up}\n` }),
    // drizzle-orm runs the file's pieces between `--> statement-breakpoint` lines one by one in its
    // transaction; dbguard runs the whole file in one, where those lines are comments: the same statements.
    sectionOf: (text, direction) => (direction === 'up' ? text : ''),
    noTransactionRunsWhole: false,
    declaresNoTransaction: () => false,
    blankDown: () => 'no down SQL (Drizzle Kit writes none)',

    trackingTable: TABLE,
    trackingFactsSql: trackingFactsSql(TABLE),
    shapeProblem(columns) {
      if (/^id integer,hash text,created_at bigint$/.test(columns.join(','))) return null;
      return notOwnShape(TABLE, columns, null);
    },
    createTableSql: `CREATE SCHEMA IF NOT EXISTS "drizzle";
CREATE TABLE IF NOT EXISTS ${QUOTED_TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`,
    readAppliedSql: `SELECT id, created_at::text AS created_at FROM ${QUOTED_TABLE}`,
    appliedFromRows,
    fileOfId: () => null,
    idMatches: () => true,
    // As drizzle-orm inserts it: the file's sha256, and the journal's "when" (the version) as created_at.
    recordApplySql: (m) => `INSERT INTO ${QUOTED_TABLE} ("hash", "created_at") VALUES (${sqlLiteral(m.upSha256 ?? '')}, ${m.version});`,
    recordUnapplySql: (m) => `DELETE FROM ${QUOTED_TABLE} WHERE created_at = ${m.version};`,
    outOfOrder: 'skipped',
    lockKeys: () => [],
  };
  return format;
}

const index: FolderIndex = { file: JOURNAL, read: readJournal, bind: drizzleFormat };

/** Unbound (no journal read yet): no file is a migration. */
export const drizzle: MigrationFormat = drizzleFormat(() => new Map());
