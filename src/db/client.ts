/** The only place that loads `pg` (lazily: the hook's clean path never gets here). */
import type { Client } from 'pg';
import { redactSecret, type ConnectionTarget } from '../core/connection.js';
import { DbguardError } from '../core/errors.js';

export type PgClient = Client;

const AUTH_CODES = new Set(['28P01', '28000']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

export function describeTarget(target: ConnectionTarget): string {
  return `${target.host}:${target.port}/${target.database}`;
}

/** Turns a driver error into a DbguardError; the password never appears in the result. */
export function connectError(error: unknown, target: ConnectionTarget): DbguardError {
  const code = (error as { code?: string }).code ?? '';
  const message = redactSecret((error as Error).message ?? String(error), target.password);
  const where = describeTarget(target);
  // pg raises this before asking the server when it needs a password and the URL has none.
  if (/client password must be a string|password authentication failed|no password/i.test(message) && !target.password) {
    return new DbguardError('DB_AUTH_FAILED', `the server at ${where} asks for a password and the URL has none (user "${target.user}")`, {
      hint: 'put the password in DBGUARD_DATABASE_URL (postgres://user:password@host:port/db), or set PGPASSWORD', details: { host: target.host, port: target.port, database: target.database },
    });
  }
  if (AUTH_CODES.has(code)) {
    return new DbguardError('DB_AUTH_FAILED', `authentication failed for user "${target.user}" at ${where}`, {
      hint: 'check the user and password in DBGUARD_DATABASE_URL (or database.url)', details: { host: target.host, port: target.port, database: target.database },
    });
  }
  if (code === '3D000') {
    return new DbguardError('DB_CONNECT_FAILED', `database "${target.database}" does not exist at ${target.host}:${target.port}`, {
      hint: `create it (createdb ${target.database}) or fix the database name in the URL`, details: { host: target.host, port: target.port, database: target.database },
    });
  }
  const unreachable = UNREACHABLE.has(code) || /timeout/i.test(message);
  return new DbguardError('DB_CONNECT_FAILED', unreachable ? `cannot reach PostgreSQL at ${where} (${code || message})` : `cannot connect to ${where}: ${message}`, {
    hint: unreachable ? 'start the database (dbguard db start for the embedded one) or fix the host and port' : 'check the database settings, then run the command again',
    details: { host: target.host, port: target.port, database: target.database },
  });
}

/** Server-side bounds for every statement of a session (0 = none). */
export interface SessionLimits {
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
}

/**
 * Loads the driver (pg: some 50 ms of module loading). A session that starts the embedded server calls
 * it first, so the load runs while the server gets ready instead of after; a failure surfaces in connect.
 */
export function loadDriver(): Promise<unknown> {
  return import('pg').catch(() => undefined);
}

export async function connect(target: ConnectionTarget, limits?: SessionLimits, timeoutMs = 5000): Promise<PgClient> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({
    ...(limits ? { lock_timeout: limits.lockTimeoutMs, statement_timeout: limits.statementTimeoutMs } : {}),
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    connectionTimeoutMillis: timeoutMs,
    application_name: 'dbguard',
    ...(target.ssl === undefined ? {} : { ssl: target.ssl }),
  });
  // A server that goes away mid-run surfaces as a query error; this only keeps node from crashing on it.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectError(error, target);
  }
  return client;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Wraps a failed statement: the SQL error, its position, and which migration it came from. */
export function queryError(error: unknown, context: string, hint: string, details: Record<string, unknown> = {}): DbguardError {
  const pgError = error as { message?: string; code?: string; position?: string };
  return new DbguardError('DB_QUERY_FAILED', `${context}: ${pgError.message ?? String(error)}`, {
    hint, cause: error, details: { ...details, sqlState: pgError.code, position: pgError.position },
  });
}

/** Whether a table (or any relation) of that name exists; `name` may be schema-qualified and quoted. */
export async function relationExists(client: PgClient, name: string): Promise<boolean> {
  const result = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [name]);
  return Boolean(result.rows[0]?.t);
}

/** Every schema but the system's: what a reset empties and a dump restore replaces. */
export async function userSchemas(client: PgClient): Promise<string[]> {
  const result = await client.query<{ name: string }>("SELECT nspname AS name FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1");
  return result.rows.map((row) => row.name);
}

/**
 * The server's other client sessions, of every database, as "psql (pid 42)" (dbguard's own included);
 * with `except`, only those of the other databases, as "psql (pid 42) on app".
 */
export async function otherClientSessions(client: PgClient, except?: string): Promise<string[]> {
  const result = await client.query<{ who: string }>(
    `SELECT COALESCE(NULLIF(application_name, ''), 'a client') || ' (pid ' || pid || ')' || CASE WHEN $1::text IS NULL THEN '' ELSE ' on ' || datname END AS who
     FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
       AND ($1::text IS NULL OR (datname IS NOT NULL AND datname <> $1)) ORDER BY pid`, [except ?? null],
  );
  return result.rows.map((row) => row.who);
}

/** COMMENT ON DATABASE: what dbguard writes on the databases it makes (null: none). */
export async function setDatabaseComment(client: PgClient, database: string, comment: string | null): Promise<void> {
  await client.query(`COMMENT ON DATABASE ${quoteIdentifier(database)} IS ${comment === null ? 'NULL' : client.escapeLiteral(comment)}`);
}

/** The server's major version (15, 18, …), for features a version has or lacks. */
export async function serverMajorVersion(client: PgClient): Promise<number> {
  const result = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  return Math.floor(Number(result.rows[0]?.v ?? 0) / 10000);
}

/** BEGIN, the work, COMMIT (ROLLBACK for a dry run, whose answer is all it keeps); ROLLBACK and rethrow if anything fails. */
export async function inTransaction<T>(client: PgClient, work: () => Promise<T>, end: 'COMMIT' | 'ROLLBACK' = 'COMMIT'): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query(end);
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
