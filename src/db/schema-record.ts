/**
 * `_dbguard.schema_record`: the schema's fingerprint as it was at a version (DESIGN §11), recorded where
 * a migrate or rollback run starts and ends, so a later run reaching that version can tell whether the
 * schema is what it was there.
 */
import { createHash } from 'node:crypto';
import { TRACKING_SCHEMA, type SchemaFingerprint } from '../core/schema.js';
import { relationExists, type PgClient } from './client.js';

const TABLE = `${TRACKING_SCHEMA}.schema_record`;

export function fingerprintHash(fingerprint: SchemaFingerprint): string {
  const hash = createHash('sha256');
  for (const [key, def] of [...fingerprint].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) hash.update(`${key}\t${def}\n`);
  return hash.digest('hex');
}

/** One round trip (a simple-query batch). */
async function ensureTable(client: PgClient): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${TRACKING_SCHEMA};
CREATE TABLE IF NOT EXISTS ${TABLE} (version bigint PRIMARY KEY, schema_hash text NOT NULL, objects jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`);
}

export async function readSchemaRecord(client: PgClient, version: bigint): Promise<{ hash: string; fingerprint: SchemaFingerprint } | null> {
  if (!(await relationExists(client, TABLE))) return null;
  const result = await client.query<{ schema_hash: string; objects: Record<string, string> }>(`SELECT schema_hash, objects FROM ${TABLE} WHERE version = $1`, [version.toString()]);
  const row = result.rows[0];
  return row ? { hash: row.schema_hash, fingerprint: new Map(Object.entries(row.objects)) } : null;
}

export async function writeSchemaRecord(client: PgClient, version: bigint, fingerprint: SchemaFingerprint): Promise<void> {
  await ensureTable(client);
  await client.query(
    `INSERT INTO ${TABLE} (version, schema_hash, objects) VALUES ($1, $2, $3)
     ON CONFLICT (version) DO UPDATE SET schema_hash = EXCLUDED.schema_hash, objects = EXCLUDED.objects, recorded_at = now()`,
    [version.toString(), fingerprintHash(fingerprint), JSON.stringify(Object.fromEntries(fingerprint))],
  );
}
