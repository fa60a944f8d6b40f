/**
 * Copy databases as snapshots (DESIGN §12), run on a maintenance connection to the same server: the
 * database being copied or replaced must have no session at all, dbguard's own included.
 */
import { SNAPSHOT_DATABASE_PREFIX, encodeSnapshotComment, parseSnapshotComment, type Snapshot, type SnapshotMeta } from '../core/snapshot.js';
import { DbguardError } from '../core/errors.js';
import { quoteIdentifier, serverMajorVersion, setDatabaseComment, type PgClient } from './client.js';

const RESTORING_PREFIX = 'dbguard_restoring_';
/** Serialises snapshot work on a server: advisory locks are per database, and this one is the maintenance one. */
const SNAPSHOT_LOCK_KEY = 0x64626773; // 'dbgs'


export async function lockSnapshots(maintenance: PgClient): Promise<void> {
  await maintenance.query('SELECT pg_advisory_lock($1)', [SNAPSHOT_LOCK_KEY]);
}

export interface TemplateFacts {
  readonly otherSessions: string[];
  readonly canTemplate: boolean;
  readonly serverMajor: number;
}

/**
 * Other sessions count only when they stay: a client that has just disconnected (the previous dbguard
 * command, a test's query) leaves its backend in pg_stat_activity for a moment. Up to a second.
 */
export async function templateFacts(maintenance: PgClient, database: string, patienceMs = 1_000): Promise<TemplateFacts> {
  let facts = await readTemplateFacts(maintenance, database);
  for (let wait = 0; facts.otherSessions.length > 0 && wait < patienceMs / 100; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    facts = await readTemplateFacts(maintenance, database);
  }
  return facts;
}

/** The facts as they are now, without waiting for sessions on their way out. */
export async function readTemplateFacts(maintenance: PgClient, database: string): Promise<TemplateFacts> {
  const sessions = await maintenance.query<{ who: string }>(
    `SELECT COALESCE(NULLIF(application_name, ''), 'a client') || ' (pid ' || pid || ')' AS who
     FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid`, [database]);
  const rights = await maintenance.query<{ can: boolean; major: number }>(
    `SELECT (r.rolsuper OR (r.rolcreatedb AND d.datdba = r.oid)) AS can, current_setting('server_version_num')::int / 10000 AS major
     FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = $1`, [database]);
  return { otherSessions: sessions.rows.map((r) => r.who), canTemplate: rights.rows[0]?.can ?? false, serverMajor: rights.rows[0]?.major ?? 0 };
}

/**
 * §14 --disconnect: ends the other sessions of `database` and keeps new ones out while `work` copies or
 * swaps it (an app's pool would otherwise reconnect within the moment CREATE DATABASE waits). Whatever
 * happens, every database `work` leaves under one of `names` accepts connections again afterwards;
 * a session that finds one still closed (a kill in between) opens it again (reopenIfClosed).
 */
export async function withDatabaseToItself<T>(maintenance: PgClient, database: string, names: readonly string[], work: () => Promise<T>): Promise<T> {
  await maintenance.query(`ALTER DATABASE ${quoteIdentifier(database)} ALLOW_CONNECTIONS false`);
  try {
    await maintenance.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
    return await work();
  } finally {
    await reopen(maintenance, [database, ...names]);
  }
}

async function reopen(maintenance: PgClient, names: readonly string[]): Promise<void> {
  const closed = await maintenance.query<{ datname: string }>('SELECT datname FROM pg_database WHERE NOT datallowconn AND datname = ANY($1::text[]) AND NOT datistemplate', [names]);
  for (const row of closed.rows) await maintenance.query(`ALTER DATABASE ${quoteIdentifier(row.datname)} ALLOW_CONNECTIONS true`).catch(() => undefined);
}

/** A database left closed by a run killed inside withDatabaseToItself: opened again (0 rows otherwise). */
export async function reopenIfClosed(maintenance: PgClient, database: string): Promise<boolean> {
  const closed = await maintenance.query('SELECT 1 FROM pg_database WHERE datname = $1 AND NOT datallowconn AND NOT datistemplate', [database]);
  if (closed.rowCount === 0) return false;
  await reopen(maintenance, [database]);
  return true;
}

/** Every dbguard copy database on the server; a half-written one (no comment yet) has meta null. */
export async function listCopyDatabases(maintenance: PgClient): Promise<Array<{ datname: string; meta: SnapshotMeta | null; bytes: number | null }>> {
  // Another role's copy may not be ours to size (pg_database_size needs CONNECT): its size is unknown.
  const result = await maintenance.query<{ datname: string; comment: string | null; bytes: string | null }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS comment,
       CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid)::text END AS bytes
     FROM pg_database WHERE datname LIKE $1 OR datname LIKE $2`, [`${SNAPSHOT_DATABASE_PREFIX.replace(/_/g, '\\_')}%`, `${RESTORING_PREFIX.replace(/_/g, '\\_')}%`]);
  return result.rows.map((row) => ({ datname: row.datname, meta: parseSnapshotComment(row.comment), bytes: row.bytes === null ? null : Number(row.bytes) }));
}

/** Copies a killed run left without their comment, and restores it left half made: never listed, dropped here. */
export async function dropHalfWritten(maintenance: PgClient): Promise<void> {
  // Another role's leftover is not ours to drop: it stays (unlisted) rather than stop this snapshot.
  for (const leftover of (await listCopyDatabases(maintenance)).filter((c) => c.meta === null)) await dropDatabase(maintenance, leftover.datname).catch(() => undefined);
}

/** The server's data directory, where this role may see it (superuser, pg_read_all_settings); else null. */
export async function dataDirectory(maintenance: PgClient): Promise<string | null> {
  return maintenance.query<{ data_directory: string }>('SHOW data_directory').then((r) => r.rows[0]?.data_directory ?? null, () => null);
}

export async function dropDatabase(maintenance: PgClient, name: string): Promise<void> {
  await maintenance.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
}

/**
 * `CREATE DATABASE target TEMPLATE source`, as cheaply as the server can. FILE_COPY copies the files
 * after a checkpoint; the default since PostgreSQL 15, WAL_LOG, writes every block through the WAL:
 * 161 vs 440 ms for 221 MB (bench/snapshot.ts). Older servers know only the former. With `clone`
 * (where the caller found the disk can clone), PostgreSQL 18 clones the files (`file_copy_method`, a
 * setting any role may set): on XFS with reflink or btrfs the copy then costs almost nothing, whatever
 * the size (§16). Where the setting or the clone is refused, the copy is made the old way, without a word.
 */
export async function copyDatabase(maintenance: PgClient, target: string, template: string, clone: boolean): Promise<void> {
  const major = await serverMajorVersion(maintenance);
  const create = () => maintenance.query(`CREATE DATABASE ${quoteIdentifier(target)} TEMPLATE ${quoteIdentifier(template)}${major >= 15 ? ' STRATEGY FILE_COPY' : ''}`);
  const cloning = clone && major >= 18 && (await maintenance.query('SET file_copy_method = clone').then(() => true, () => false));
  try {
    await create();
  } catch (error) {
    if (!cloning || !/clone/i.test((error as Error).message)) throw error;
    await maintenance.query('RESET file_copy_method');
    await create();
  } finally {
    if (cloning) await maintenance.query('RESET file_copy_method').catch(() => undefined);
  }
}

/** Copies survive only once their comment is written: a kill before that leaves a copy the next run drops. */
export async function createCopy(maintenance: PgClient, meta: SnapshotMeta, clone = false): Promise<Snapshot> {
  await copyDatabase(maintenance, meta.location, meta.of, clone).catch((error: unknown) => {
    throw copyError(error, meta.of);
  });
  await setDatabaseComment(maintenance, meta.location, encodeSnapshotComment(meta));
  const size = await maintenance.query<{ bytes: string }>('SELECT pg_database_size($1)::text AS bytes', [meta.location]);
  return { ...meta, bytes: Number(size.rows[0]?.bytes ?? 0) };
}

/** What belongs to a database rather than to its contents: a copy (CREATE DATABASE … TEMPLATE) has none of it. */
interface DatabaseProperties {
  readonly owner: string;
  readonly comment: string | null;
  /** aclexplode(datacl) as grants; null: the default ACL. */
  readonly grants: ReadonlyArray<{ grantee: string | null; privilege: string; grantable: boolean }> | null;
  /** ALTER DATABASE [IN ROLE r] SET name = value, as pg_db_role_setting keeps them ("name=value"). */
  readonly settings: ReadonlyArray<{ role: string | null; config: string[] }>;
}

async function readProperties(maintenance: PgClient, database: string): Promise<DatabaseProperties> {
  // The owner is carried over only by a superuser (another role may not give a database away); else the copy's owner is ours.
  const base = await maintenance.query<{ owner: string; comment: string | null; has_acl: boolean }>(
    `SELECT CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN pg_get_userbyid(datdba) ELSE '' END AS owner,
       shobj_description(oid, 'pg_database') AS comment, datacl IS NOT NULL AS has_acl FROM pg_database WHERE datname = $1`, [database]);
  const grants = await maintenance.query<{ grantee: string | null; privilege: string; grantable: boolean }>(
    `SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type AS privilege, a.is_grantable AS grantable
     FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1`, [database]);
  const settings = await maintenance.query<{ role: string | null; config: string[] }>(
    `SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END AS role, s.setconfig AS config
     FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`, [database]);
  const row = base.rows[0];
  return { owner: row?.owner ?? '', comment: row?.comment ?? null, grants: row?.has_acl ? grants.rows : null, settings: settings.rows };
}

/** Gives `to` what belongs to `from` as a database (owner, comment, grants, settings): a copy made to take its place. */
export async function copyProperties(maintenance: PgClient, from: string, to: string): Promise<void> {
  await applyProperties(maintenance, to, await readProperties(maintenance, from));
}

/** Settings whose value is a list: each element is quoted on its own (search_path = 'app', 'public'). */
const LIST_SETTINGS = new Set(['search_path', 'temp_tablespaces', 'session_preload_libraries', 'local_preload_libraries']);

async function applyProperties(maintenance: PgClient, database: string, properties: DatabaseProperties): Promise<void> {
  const db = quoteIdentifier(database);
  if (properties.owner) await maintenance.query(`ALTER DATABASE ${db} OWNER TO ${quoteIdentifier(properties.owner)}`);
  await setDatabaseComment(maintenance, database, properties.comment);
  if (properties.grants !== null) {
    await maintenance.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    for (const grant of properties.grants) {
      await maintenance.query(`GRANT ${grant.privilege} ON DATABASE ${db} TO ${grant.grantee === null ? 'PUBLIC' : quoteIdentifier(grant.grantee)}${grant.grantable ? ' WITH GRANT OPTION' : ''}`);
    }
  }
  for (const { role, config } of properties.settings) {
    for (const entry of config) {
      const at = entry.indexOf('=');
      const name = entry.slice(0, at);
      const value = entry.slice(at + 1);
      const literal = LIST_SETTINGS.has(name.toLowerCase()) ? value.split(',').map((v) => maintenance.escapeLiteral(v.trim())).join(', ') : maintenance.escapeLiteral(value);
      await maintenance.query(`ALTER DATABASE ${db}${role === null ? '' : ` IN ROLE ${quoteIdentifier(role)}`} SET ${quoteIdentifier(name)} = ${literal}`);
    }
  }
}

/**
 * Puts a copy of `snapshot` in place of `database`, atomically: the copy is made under a temporary name
 * (a kill there leaves the database as it was, and a leftover the next run drops), then one transaction
 * renames the database to `replaced.location` with its own snapshot comment, and the copy to its name.
 * What was replaced is therefore itself a snapshot: a restore never loses the state it replaces.
 */
export async function swapInCopy(maintenance: PgClient, database: string, snapshot: SnapshotMeta, replaced: SnapshotMeta, random: string, clone = false): Promise<void> {
  const restoring = `${RESTORING_PREFIX}${random}`;
  // Settings, grants, owner and comment belong to the database, not to what the copy holds (§12).
  const properties = await readProperties(maintenance, database);
  await copyDatabase(maintenance, restoring, snapshot.location, clone).catch((error: unknown) => {
    throw copyError(error, snapshot.location);
  });
  try {
    await maintenance.query('BEGIN');
    await maintenance.query(`ALTER DATABASE ${quoteIdentifier(database)} RENAME TO ${quoteIdentifier(replaced.location)}`);
    await setDatabaseComment(maintenance, replaced.location, encodeSnapshotComment(replaced));
    await maintenance.query(`ALTER DATABASE ${quoteIdentifier(restoring)} RENAME TO ${quoteIdentifier(database)}`);
    await applyProperties(maintenance, database, properties);
    await maintenance.query('COMMIT');
  } catch (error) {
    await maintenance.query('ROLLBACK').catch(() => undefined);
    await dropDatabase(maintenance, restoring).catch(() => undefined);
    throw copyError(error, database);
  }
}

/** Drops the database and creates it empty again (reset of the embedded database, §6). */
export async function recreateEmpty(maintenance: PgClient, database: string): Promise<void> {
  const properties = await readProperties(maintenance, database);
  await maintenance.query(`DROP DATABASE ${quoteIdentifier(database)}`).catch((error: unknown) => {
    throw copyError(error, database);
  });
  await maintenance.query(`CREATE DATABASE ${quoteIdentifier(database)} TEMPLATE template0`);
  await applyProperties(maintenance, database, properties);
}

function copyError(error: unknown, database: string): DbguardError {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message;
  if (code === '55006') {
    return new DbguardError('SNAPSHOT_UNAVAILABLE', `"${database}" is in use by another session: ${message}; nothing was changed`, {
      hint: 'close the other sessions (stop your app, quit psql) and run the command again, or add --no-snapshot', cause: error,
    });
  }
  if (code === '53100') {
    return new DbguardError('SNAPSHOT_FAILED', `the disk is full: ${message}; the partial copy was removed and nothing was changed`, {
      hint: 'free some disk space (dbguard snapshot list, then dbguard snapshot drop <name>), or add --no-snapshot', cause: error,
    });
  }
  return new DbguardError('SNAPSHOT_FAILED', `copying "${database}" failed: ${message}; nothing was changed`, {
    hint: 'dbguard snapshot list   (then run the command again, or add --no-snapshot)', cause: error, details: { sqlState: code },
  });
}
