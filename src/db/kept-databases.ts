/**
 * The databases dbguard keeps per worktree and per saved branch (DESIGN §17), on a maintenance
 * connection to their server: their comment is written once the copy is whole, so the server lists
 * exactly what dbguard made, with what it is.
 */
import { encodeKeptDatabaseComment, parseKeptDatabaseComment, type KeptDatabaseMeta } from '../core/kept-database.js';
import { quoteIdentifier, type PgClient } from './client.js';

export interface KeptDatabase {
  readonly name: string;
  readonly meta: KeptDatabaseMeta;
  /** Its size on disk; null where this role may not connect to it (pg_database_size needs CONNECT). */
  readonly bytes: number | null;
  /** Sessions connected to it now, besides the one asking. */
  readonly sessions: number;
}

export async function writeKeptComment(maintenance: PgClient, database: string, meta: KeptDatabaseMeta): Promise<void> {
  await maintenance.query(`COMMENT ON DATABASE ${quoteIdentifier(database)} IS ${maintenance.escapeLiteral(encodeKeptDatabaseComment(meta))}`);
}

/** Every database on the server whose comment says dbguard keeps it, in one query. */
export async function listKeptDatabases(maintenance: PgClient): Promise<KeptDatabase[]> {
  const result = await maintenance.query<{ datname: string; comment: string | null; bytes: string | null; sessions: number }>(
    `SELECT d.datname, shobj_description(d.oid, 'pg_database') AS comment,
       CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid)::text END AS bytes,
       (SELECT count(*)::int FROM pg_stat_activity a WHERE a.datid = d.oid AND a.pid <> pg_backend_pid()) AS sessions
     FROM pg_database d WHERE shobj_description(d.oid, 'pg_database') LIKE 'dbguard database %' ORDER BY d.datname`);
  return result.rows.flatMap((row) => {
    const meta = parseKeptDatabaseComment(row.comment);
    return meta === null ? [] : [{ name: row.datname, meta, bytes: row.bytes === null ? null : Number(row.bytes), sessions: row.sessions }];
  });
}
