/**
 * The databases dbguard keeps per worktree and per saved branch (DESIGN §17), on a maintenance
 * connection to their server: their comment is written once the copy is whole, so the server lists
 * exactly what dbguard made, with what it is.
 */
import { encodeKeptDatabaseComment, parseKeptDatabaseComment, type KeptDatabaseMeta } from '../core/kept-database.js';
import { queryError, quoteIdentifier, setDatabaseComment, type PgClient } from './client.js';

export interface KeptDatabase {
  readonly name: string;
  /** Its oid: the folder `base/<oid>` of the server's data directory holds its files. */
  readonly oid: number;
  readonly meta: KeptDatabaseMeta;
  /** Its size on disk; null where this role may not connect to it (pg_database_size needs CONNECT). */
  readonly bytes: number | null;
  /** Client sessions connected to it now, besides the one asking (not autovacuum, which DROP DATABASE ends itself). */
  readonly sessions: number;
}

/** A database's comment: null when it has none, undefined when there is no such database. */
export async function databaseComment(maintenance: PgClient, database: string): Promise<string | null | undefined> {
  const found = await maintenance.query<{ comment: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`, [database]);
  return found.rows[0] === undefined ? undefined : found.rows[0].comment;
}

export async function writeKeptComment(maintenance: PgClient, database: string, meta: KeptDatabaseMeta): Promise<void> {
  await setDatabaseComment(maintenance, database, encodeKeptDatabaseComment(meta));
}

/** Every database on the server whose comment says dbguard keeps it, in one query. */
export async function listKeptDatabases(maintenance: PgClient): Promise<KeptDatabase[]> {
  const result = await maintenance.query<{ datname: string; oid: number; comment: string | null; bytes: string | null; sessions: number }>(
    `SELECT d.datname, d.oid::int AS oid, shobj_description(d.oid, 'pg_database') AS comment,
       CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid)::text END AS bytes,
       (SELECT count(*)::int FROM pg_stat_activity a WHERE a.datid = d.oid AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend') AS sessions
     FROM pg_database d WHERE shobj_description(d.oid, 'pg_database') LIKE 'dbguard database %' ORDER BY d.datname`);
  return result.rows.flatMap((row) => {
    const meta = parseKeptDatabaseComment(row.comment);
    return meta === null ? [] : [{ name: row.datname, oid: row.oid, meta, bytes: row.bytes === null ? null : Number(row.bytes), sessions: row.sessions }];
  });
}

/** A database's oid, size and other sessions (the project's main database, which carries no comment); null when it does not exist. */
export async function databaseUsage(client: PgClient, name: string): Promise<{ oid: number; bytes: number | null; sessions: number } | null> {
  const result = await client.query<{ oid: number; bytes: string | null; sessions: number }>(
    `SELECT d.oid::int AS oid, CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid)::text END AS bytes,
       (SELECT count(*)::int FROM pg_stat_activity a WHERE a.datid = d.oid AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend') AS sessions
     FROM pg_database d WHERE d.datname = $1`, [name]);
  const row = result.rows[0];
  return row === undefined ? null : { oid: row.oid, bytes: row.bytes === null ? null : Number(row.bytes), sessions: row.sessions };
}

export type DropOutcome = 'dropped' | 'in-use' | 'changed';

/**
 * Drops a kept database only while it is still the one listed (same oid, still a kept comment); a
 * session that connected since the listing makes PostgreSQL refuse the drop (55006), which is reported
 * as 'in-use', never forced. A database gone meanwhile (another prune) counts as dropped.
 */
export async function dropKeptDatabase(client: PgClient, database: KeptDatabase): Promise<DropOutcome> {
  const now = await client.query<{ oid: number; comment: string | null }>(
    `SELECT d.oid::int AS oid, shobj_description(d.oid, 'pg_database') AS comment FROM pg_database d WHERE d.datname = $1`, [database.name]);
  const row = now.rows[0];
  if (row === undefined) return 'dropped';
  if (row.oid !== database.oid || parseKeptDatabaseComment(row.comment) === null) return 'changed';
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database.name)}`);
    return 'dropped';
  } catch (error) {
    if ((error as { code?: string }).code === '55006') return 'in-use';
    throw queryError(error, `dropping database ${database.name}`, 'dbguard db list   (to see its state), then dbguard db prune again');
  }
}
