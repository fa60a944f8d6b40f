/**
 * What we need to know about a migration's SQL text without parsing SQL: whether it can run inside
 * our per-step transaction. Statements such as CREATE INDEX CONCURRENTLY refuse to run in one, and a
 * file that manages its own transaction (BEGIN … COMMIT, common in golang-migrate projects) would
 * commit ours half-way; both take the dirty-marker path instead (DESIGN §4).
 */

import type { MigrationFormat } from './format.js';

/** An explicit opt-out a migration author can write anywhere in the file. */
export const NO_TRANSACTION_MARKER = /--\s*dbguard:no-transaction\b/i;

const OUTSIDE_TRANSACTION = [
  /\b(?:CREATE|DROP)\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\b/i,
  /\bREINDEX\b[^;]*\bCONCURRENTLY\b/i,
  /\bDETACH\s+PARTITION\b[^;]*\bCONCURRENTLY\b/i,
  /\bVACUUM\b/i,
  /\bALTER\s+SYSTEM\b/i,
  /\b(?:CREATE|DROP)\s+(?:DATABASE|TABLESPACE)\b/i,
];

/**
 * A whole statement of transaction control: BEGIN, START TRANSACTION, COMMIT (AND CHAIN), END, ROLLBACK,
 * ABORT, with their optional words. `BEGIN ATOMIC` (a SQL function body) is not one.
 */
const TRANSACTION_CONTROL = /^(?:BEGIN(?:\s+(?:WORK|TRANSACTION))?(?:\s+ISOLATION\s+LEVEL\b.*|\s+READ\s+(?:ONLY|WRITE)\b.*)?|START\s+TRANSACTION\b.*|(?:COMMIT|END|ROLLBACK|ABORT)(?:\s+(?:WORK|TRANSACTION))?(?:\s+AND\s+(?:NO\s+)?CHAIN)?|COMMIT\s+PREPARED\b.*)\s*;?$/is;

interface Segment {
  /** True for SQL code; false for comments, quoted strings, quoted identifiers and dollar-quoted bodies. */
  readonly code: boolean;
  readonly text: string;
}

/** Splits SQL text into code and non-code segments; one scanner serves stripping and splitting. */
function segmentSql(sql: string): Segment[] {
  const segments: Segment[] = [];
  let codeStart = 0;
  let i = 0;
  const literal = (start: number, end: number) => {
    if (start > codeStart) segments.push({ code: true, text: sql.slice(codeStart, start) });
    else start = codeStart;
    segments.push({ code: false, text: sql.slice(start, end) });
    codeStart = end;
    i = end;
  };
  while (i < sql.length) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      literal(i, end === -1 ? sql.length : end);
    } else if (ch === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < sql.length && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') { depth++; j += 2; }
        else if (sql[j] === '*' && sql[j + 1] === '/') { depth--; j += 2; }
        else j++;
      }
      literal(i, j);
    } else if (ch === "'" || ch === '"') {
      // E'…' strings take backslash escapes (E'it\'s'); the E must start a token, not end a word.
      const escapes = ch === "'" && /[Ee]/.test(sql[i - 1] ?? '') && !/[A-Za-z0-9_$]/.test(sql[i - 2] ?? '');
      let j = i + 1;
      while (j < sql.length) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === ch && sql[j + 1] === ch) j += 2;
        else if (sql[j] === ch) { j++; break; }
        else j++;
      }
      literal(escapes ? i - 1 : i, j);
    } else if (ch === '$' && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? '')) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        literal(i, end === -1 ? sql.length : end + tag[0].length);
      } else {
        i++;
      }
    } else {
      i++;
    }
  }
  if (codeStart < sql.length) segments.push({ code: true, text: sql.slice(codeStart) });
  return segments;
}

/**
 * Blanks out comments, quoted strings, quoted identifiers and dollar-quoted bodies, so keywords inside
 * them (a function body that says COMMIT, a comment that mentions VACUUM) do not count.
 */
export function stripSqlLiterals(sql: string): string {
  return segmentSql(sql).map((s) => (s.code ? s.text : ' ')).join('');
}

/**
 * Splits a script into statements at top-level semicolons. Needed for SQL that must run outside a
 * transaction: Postgres runs a multi-statement query string as one implicit transaction.
 */
export function splitSqlStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  // Inside `BEGIN ATOMIC … END` (a SQL-standard function body) semicolons end the body's statements,
  // not ours; CASE … END inside it nests.
  let atomicDepth = 0;
  let lastWord = '';
  for (const segment of segmentSql(sql)) {
    if (!segment.code) {
      current += segment.text;
      continue;
    }
    for (const token of segment.text.split(/(;|[A-Za-z_][A-Za-z0-9_$]*)/)) {
      const word = token.toUpperCase();
      if (token === ';' && atomicDepth === 0) {
        if (!isBlankSql(current)) statements.push(`${current.trim()};`);
        current = '';
        continue;
      }
      current += token;
      if (!/^[A-Z_]/.test(word)) continue;
      if (word === 'ATOMIC' && lastWord === 'BEGIN') atomicDepth++;
      else if (word === 'CASE' && atomicDepth > 0) atomicDepth++;
      else if (word === 'END' && atomicDepth > 0) atomicDepth--;
      lastWord = word;
    }
  }
  if (!isBlankSql(current)) statements.push(current.trim());
  return statements;
}

/** The statements with comments, strings and bodies blanked out, whitespace folded: for keyword tests. */
function codeOfStatements(sql: string): string[] {
  return splitSqlStatements(sql).map((statement) => stripSqlLiterals(statement).replace(/\s+/g, ' ').trim());
}

/** True when the file manages its own transaction (BEGIN … COMMIT, ABORT, COMMIT AND CHAIN, …). */
export function hasTransactionControl(sql: string, code = stripSqlLiterals(sql)): boolean {
  // Most files name none of these words: skip splitting them into statements (migrate's hot path).
  if (!/\b(?:BEGIN|START|COMMIT|END|ROLLBACK|ABORT)\b/i.test(code)) return false;
  return codeOfStatements(sql).some((statement) => TRANSACTION_CONTROL.test(statement));
}

/**
 * The explicit marker is authoritative; otherwise statements known to refuse a transaction block, or a
 * file that manages its own transaction. Anything else is tried in a transaction first, and the
 * executors fall back to the dirty-marker path on SQLSTATE 25001 (DESIGN §4).
 */
export function requiresNoTransaction(sql: string, format: MigrationFormat): boolean {
  if (NO_TRANSACTION_MARKER.test(sql.split('\n', 1)[0] ?? '') || NO_TRANSACTION_MARKER.test(sql) || format.declaresNoTransaction(sql)) return true;
  const code = stripSqlLiterals(sql);
  return OUTSIDE_TRANSACTION.some((pattern) => pattern.test(code)) || hasTransactionControl(sql, code);
}

/** What runs, one query each, when a file cannot run in our transaction: as the project's tool runs it. */
export function outsideTransaction(sql: string, format: MigrationFormat): string[] {
  return format.noTransactionRunsWhole ? [sql] : splitSqlStatements(sql);
}

/** SQLSTATE 25001: the statement cannot run inside a transaction block. */
export const ACTIVE_SQL_TRANSACTION = '25001';

const DATA_STATEMENT = /^(?:INSERT|UPDATE|DELETE|MERGE|SELECT|VALUES|WITH|COPY|SET|RESET|SHOW|TRUNCATE|ANALYZE|VACUUM|LOCK|NOTIFY|LISTEN|UNLISTEN|DISCARD|REFRESH\s+MATERIALIZED\s+VIEW|CREATE\s+EXTENSION\s+IF\s+NOT\s+EXISTS)\b/i;
const TEMP_CREATE = /^CREATE\s+(?:GLOBAL\s+|LOCAL\s+)?(?:TEMP|TEMPORARY)\s+(?:TABLE|VIEW|SEQUENCE)\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][\w$]*)/i;
const TEMP_FUNCTION = /^(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)|DROP\s+(?:FUNCTION|PROCEDURE)\s+(?:IF\s+EXISTS\s+)?)\s*pg_temp\./i;
const DROP_TABLE = /^DROP\s+(?:TABLE|VIEW|SEQUENCE)\s+(?:IF\s+EXISTS\s+)?([A-Za-z_][\w$]*)\s*(?:CASCADE|RESTRICT)?\s*;?$/i;
const DDL_WORD = /\b(?:CREATE|ALTER|DROP|GRANT|REVOKE|COMMENT\s+ON|EXECUTE|SECURITY\s+LABEL|REASSIGN|IMPORT\s+FOREIGN)\b/i;

/** The body of a `DO` block (its dollar-quoted or quoted text), or null when it has none. */
function doBlockBody(statement: string): string | null {
  const match = /^\s*DO\s+(?:LANGUAGE\s+\w+\s+)?(\$([A-Za-z_]\w*)?\$)([\s\S]*?)\1/i.exec(statement.replace(/^(?:\s|--[^\n]*\n)+/, ''));
  return match ? (match[3] as string) : null;
}

/**
 * Conservative classifier (DESIGN §3) for migrations dbguard has no schema record of: true only when
 * every statement changes data, not schema — INSERT/UPDATE/DELETE/SELECT/COPY/SET and the like, temp
 * tables and pg_temp functions, transaction control, and DO blocks whose body has no DDL or dynamic
 * SQL. `CREATE EXTENSION IF NOT EXISTS` counts as data-only: backfills use it to make sure a function
 * they call exists (§10), and rolling it back would be wrong when an earlier migration created it.
 */
export function isDataOnlySql(sql: string): boolean {
  const temp = new Set<string>();
  const statements = splitSqlStatements(sql);
  if (statements.length === 0) return false;
  for (const statement of statements) {
    const code = stripSqlLiterals(statement).replace(/\s+/g, ' ').trim();
    if (code === '' || code === ';' || TRANSACTION_CONTROL.test(code) || DATA_STATEMENT.test(code) || TEMP_FUNCTION.test(code)) continue;
    const created = TEMP_CREATE.exec(code);
    if (created) {
      temp.add((created[1] as string).toLowerCase());
      continue;
    }
    const dropped = DROP_TABLE.exec(code);
    if (dropped && temp.has((dropped[1] as string).toLowerCase())) continue;
    if (/^DO\b/i.test(code)) {
      const body = doBlockBody(statement);
      if (body !== null && !DDL_WORD.test(stripSqlLiterals(body))) continue;
    }
    return false;
  }
  return true;
}

/** True when the text has no statement at all (only blanks and comments). */
export function isBlankSql(sql: string): boolean {
  return stripSqlLiterals(sql).replace(/[\s;]/g, '') === '';
}

/**
 * True when the SQL names `schema` (bare or as a quoted identifier) in code, not in comments or
 * strings. Down SQL that touches dbguard's own bookkeeping is refused before anything runs.
 */
export function mentionsSchema(sql: string, schema: string): boolean {
  const bare = new RegExp(`(?<![\\w$])${schema.replace(/[^\w]/g, '')}(?![\\w$])`, 'i');
  return segmentSql(sql).some((s) => (s.code ? bare.test(s.text) : s.text === `"${schema}"`));
}
