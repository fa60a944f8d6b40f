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

/**
 * Blanks out comments, quoted strings, quoted identifiers and dollar-quoted bodies, so keywords inside
 * them (a function body that says COMMIT, a comment that mentions VACUUM) do not count.
 */
export function stripSqlLiterals(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
      out += ' ';
    } else if (ch === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') { depth++; i += 2; }
        else if (sql[i] === '*' && sql[i + 1] === '/') { depth--; i += 2; }
        else i++;
      }
      out += ' ';
    } else if (ch === "'" || ch === '"') {
      i++;
      while (i < sql.length) {
        if (sql[i] === ch && sql[i + 1] === ch) i += 2;
        else if (sql[i] === ch) { i++; break; }
        else i++;
      }
      out += ' ';
    } else if (ch === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? sql.length : end + tag[0].length;
        out += ' ';
      } else {
        out += ch;
        i++;
      }
    } else {
      out += ch;
      i++;
    }
  }
  return out;
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
