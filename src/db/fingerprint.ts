/**
 * The schema as data (DESIGN §11): one catalog query listing every object a migration can make —
 * schemas, tables, views, sequences, columns, constraints, indexes, functions, triggers, types,
 * extensions — with a definition string, `_dbguard`, system schemas and schema_migrations left out.
 * PostgreSQL 18's NOT NULL constraints are keyed by their column, not their name: the generated name
 * (<table>_<column>_not_null) keeps a column's old name after a rename, so the same NOT NULL made
 * again by a down would otherwise read as one constraint lost and another left (§16).
 */
import type { SchemaFingerprint } from '../core/schema.js';
import type { PgClient } from './client.js';
import type { MigrationFormat } from '../core/format.js';

/** Built per call: the tracking table left out is the project's format's. */
const fingerprintSql = (table: string) => `
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace
  WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', '_dbguard')
), rel AS (
  SELECT c.oid, c.relname, c.relkind, n.nspname FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
  -- The tool's table, and the sequence of its id column (goose's), are the tool's, not the schema's.
  WHERE NOT ((c.relname = '${table}' AND c.relkind = 'r') OR (c.relkind = 'S' AND c.relname = '${table}_id_seq'))
)
SELECT 'schema ' || nspname AS key, '' AS def FROM ns
UNION ALL SELECT (CASE relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' ELSE 'table ' END) || nspname || '.' || relname,
  CASE WHEN relkind IN ('v', 'm') THEN pg_get_viewdef(oid) ELSE relkind::text END
  FROM rel WHERE relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL SELECT 'column ' || r.nspname || '.' || r.relname || '.' || a.attname,
  format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END || COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a JOIN rel r ON r.oid = a.attrelid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attnum > 0 AND NOT a.attisdropped AND r.relkind IN ('r', 'p', 'v', 'm', 'f')
UNION ALL SELECT 'constraint ' || r.nspname || '.' || r.relname || '.' || CASE WHEN con.contype = 'n'
    THEN 'not null (' || (SELECT attname FROM pg_attribute WHERE attrelid = con.conrelid AND attnum = con.conkey[1]) || ')' ELSE con.conname END,
  pg_get_constraintdef(con.oid)
  FROM pg_constraint con JOIN rel r ON r.oid = con.conrelid
UNION ALL SELECT 'index ' || r.nspname || '.' || ic.relname, pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN rel r ON r.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
UNION ALL SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
  md5(p.prosrc || ' ' || p.prorettype::regtype::text || ' ' || p.prokind::text)
  FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
UNION ALL SELECT 'trigger ' || r.nspname || '.' || r.relname || '.' || t.tgname, pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
UNION ALL SELECT 'type ' || n.nspname || '.' || ty.typname,
  CASE ty.typtype WHEN 'e' THEN 'enum ' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = ty.oid)
    WHEN 'd' THEN 'domain ' || format_type(ty.typbasetype, ty.typtypmod) ELSE ty.typtype::text END
  FROM pg_type ty JOIN ns n ON n.oid = ty.typnamespace
  WHERE ty.typtype IN ('e', 'd', 'c', 'r') AND (ty.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = ty.typrelid) = 'c')
UNION ALL SELECT 'extension ' || extname, extversion FROM pg_extension WHERE extname <> 'plpgsql'
ORDER BY 1`;

export async function readFingerprint(client: PgClient, format: MigrationFormat): Promise<SchemaFingerprint> {
  const result = await client.query<{ key: string; def: string | null }>(fingerprintSql(format.trackingTable));
  return new Map(result.rows.map((row) => [row.key, row.def ?? '']));
}
