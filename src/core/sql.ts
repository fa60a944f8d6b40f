/**
 * What we need to know about a migration's SQL text without parsing SQL: whether it can run inside
 * our per-step transaction. Statements such as CREATE INDEX CONCURRENTLY refuse to run in one, and a
 * file that manages its own transaction (BEGIN … COMMIT, common in golang-migrate projects) would
 * commit ours half-way; both take the dirty-marker path instead (DESIGN §4).
 */

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

/** Statement-leading transaction control: BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK. */
const TRANSACTION_CONTROL = /(?:^|;)\s*(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK)\s*(?:;|$|TRANSACTION\b|WORK\b)/i;

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
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === ch && sql[j + 1] === ch) j += 2;
        else if (sql[j] === ch) { j++; break; }
        else j++;
      }
      literal(i, j);
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
  for (const segment of segmentSql(sql)) {
    if (!segment.code) {
      current += segment.text;
      continue;
    }
    const parts = segment.text.split(';');
    parts.forEach((part, index) => {
      current += part;
      if (index < parts.length - 1) {
        if (!isBlankSql(current)) statements.push(`${current.trim()};`);
        current = '';
      }
    });
  }
  if (!isBlankSql(current)) statements.push(current.trim());
  return statements;
}

export function requiresNoTransaction(sql: string): boolean {
  if (NO_TRANSACTION_MARKER.test(sql)) return true;
  const code = stripSqlLiterals(sql);
  return OUTSIDE_TRANSACTION.some((pattern) => pattern.test(code)) || TRANSACTION_CONTROL.test(code);
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
