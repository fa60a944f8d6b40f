/**
 * The per-migration schema record (DESIGN §11): while a migrate or rollback runs, two event triggers
 * (ddl_command_end, sql_drop) write what each step's SQL adds, changes and removes into
 * `_dbguard.schema_changes`, keyed by the step dbguard names in a transaction-local setting. They exist
 * only for the run (created at its start, dropped at its end), do nothing without that setting (the
 * app's own DDL), and swallow their own errors, so a migration can never fail because of them.
 * Event triggers need a superuser: elsewhere nothing is recorded, and the run says so.
 */
import type { MigrationChanges, ObjectChange } from '../core/schema-changes.js';
import { TRACKING_SCHEMA } from '../core/schema.js';
import { relationExists, type PgClient } from './client.js';

const TABLE = `${TRACKING_SCHEMA}.schema_changes`;
const TRIGGERS = ['dbguard_record_ddl', 'dbguard_record_drop'] as const;

/** Marks the functions as this version's, so a run that finds them made skips making them again. */
const INSTALLED = 'dbguard schema events 1';

const INSTALL_SQL = `
CREATE SCHEMA IF NOT EXISTS ${TRACKING_SCHEMA};
CREATE TABLE IF NOT EXISTS ${TABLE} (
  version bigint NOT NULL, direction text NOT NULL, action text NOT NULL, object_type text NOT NULL, object text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS schema_changes_version ON ${TABLE} (version, direction);
CREATE OR REPLACE FUNCTION ${TRACKING_SCHEMA}.begin_step(step text, local boolean DEFAULT true) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM set_config('dbguard.step', step, local);
  DELETE FROM ${TABLE} WHERE version = split_part(step, ':', 1)::bigint AND direction = split_part(step, ':', 2);
  -- "ran": this step was recorded, even when its SQL changed nothing (a no-op down).
  INSERT INTO ${TABLE} (version, direction, action, object_type, object) VALUES (split_part(step, ':', 1)::bigint, split_part(step, ':', 2), 'ran', 'step', '');
END $fn$;
CREATE OR REPLACE FUNCTION ${TRACKING_SCHEMA}.record_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE step text := current_setting('dbguard.step', true);
BEGIN
  IF step IS NULL OR step = '' THEN RETURN; END IF;
  INSERT INTO ${TABLE} (version, direction, action, object_type, object)
  SELECT split_part(step, ':', 1)::bigint, split_part(step, ':', 2),
    CASE WHEN c.command_tag LIKE 'CREATE%' THEN 'added' ELSE 'changed' END, c.object_type, c.object_identity
  FROM pg_event_trigger_ddl_commands() c
  WHERE c.object_identity IS NOT NULL AND NOT c.in_extension
    AND COALESCE(c.schema_name, '') NOT LIKE 'pg\\_temp%' AND COALESCE(c.schema_name, '') <> '${TRACKING_SCHEMA}';
EXCEPTION WHEN OTHERS THEN RETURN;
END $fn$;
CREATE OR REPLACE FUNCTION ${TRACKING_SCHEMA}.record_drop() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE step text := current_setting('dbguard.step', true);
BEGIN
  IF step IS NULL OR step = '' THEN RETURN; END IF;
  INSERT INTO ${TABLE} (version, direction, action, object_type, object)
  SELECT split_part(step, ':', 1)::bigint, split_part(step, ':', 2), 'removed', d.object_type, d.object_identity
  FROM pg_event_trigger_dropped_objects() d
  WHERE d.object_identity IS NOT NULL AND NOT d.is_temporary AND COALESCE(d.schema_name, '') <> '${TRACKING_SCHEMA}';
EXCEPTION WHEN OTHERS THEN RETURN;
END $fn$;
COMMENT ON FUNCTION ${TRACKING_SCHEMA}.record_drop() IS '${INSTALLED}';`;

/** The triggers themselves, made at a run's start (a killed run may have left them: made anew). */
const TRIGGERS_SQL = `
DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[0]};
DROP EVENT TRIGGER IF EXISTS ${TRIGGERS[1]};
CREATE EVENT TRIGGER ${TRIGGERS[0]} ON ddl_command_end EXECUTE FUNCTION ${TRACKING_SCHEMA}.record_ddl();
CREATE EVENT TRIGGER ${TRIGGERS[1]} ON sql_drop EXECUTE FUNCTION ${TRACKING_SCHEMA}.record_drop();`;

/** Creates the triggers for this run; false (and nothing made) when this user may not. */
export async function startRecordingChanges(client: PgClient): Promise<boolean> {
  const facts = await client.query<{ can: boolean; installed: boolean }>(
    `SELECT rolsuper AS can, COALESCE(obj_description(to_regprocedure('${TRACKING_SCHEMA}.record_drop()'), 'pg_proc') = '${INSTALLED}', false) AS installed
     FROM pg_roles WHERE rolname = current_user`);
  if (!facts.rows[0]?.can) return false;
  await client.query(facts.rows[0].installed ? TRIGGERS_SQL : INSTALL_SQL + TRIGGERS_SQL);
  return true;
}

export async function stopRecordingChanges(client: PgClient): Promise<void> {
  await client.query(TRIGGERS.map((name) => `DROP EVENT TRIGGER IF EXISTS ${name};`).join(' '));
}

/**
 * The statement that opens a step's record: inside the step's transaction (the setting ends with it),
 * or for the session when the step runs outside one (then `END_STEP_STATEMENT` after it).
 */
export function beginStepStatement(version: bigint, direction: 'up' | 'down', inTransaction = true): string {
  return `SELECT ${TRACKING_SCHEMA}.begin_step('${version.toString()}:${direction}', ${inTransaction});`;
}

export const END_STEP_STATEMENT = "SELECT set_config('dbguard.step', '', false);";

/**
 * For an up inside migrate's one-round-trip batch: only the setting (no function call, no "ran" row:
 * an up that records nothing has nothing to leave). `forgetUps` clears older records first, once per run.
 */
export function upStepStatement(version: bigint): string {
  return `SELECT set_config('dbguard.step', '${version.toString()}:up', true);`;
}

export async function forgetUps(client: PgClient, versions: readonly bigint[]): Promise<void> {
  await client.query(`DELETE FROM ${TABLE} WHERE direction = 'up' AND version = ANY($1::bigint[])`, [versions.map(String)]);
}

/** What the recorded steps of these versions added and removed, by version and direction. */
export async function readMigrationChanges(client: PgClient, versions: readonly bigint[]): Promise<Map<bigint, MigrationChanges>> {
  const found = new Map<bigint, MigrationChanges>();
  if (versions.length === 0) return found;
  if (!(await relationExists(client, TABLE))) return found;
  const rows = await client.query<{ version: string; direction: 'up' | 'down'; action: ObjectChange['action']; object_type: string; object: string }>(
    `SELECT version::text, direction, action, object_type, object FROM ${TABLE} WHERE version = ANY($1::bigint[])`, [versions.map(String)]);
  for (const row of rows.rows) {
    const version = BigInt(row.version);
    const changes = found.get(version) ?? { up: [], down: [] };
    changes[row.direction].push({ action: row.action, type: row.object_type, object: row.object });
    found.set(version, changes);
  }
  return found;
}
