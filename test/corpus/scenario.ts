/**
 * The bad-input corpus's fixture: a project whose database has branch A's migrations (445–447, rows in
 * chat), switched to branch B (445 + pending 450) or left clean on A. Commands run as the built binary;
 * `fingerprint` is everything a command could change in the database.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../helpers/git.js';
import { createDatabase, Project, query, schemaSnapshot, tableMigration } from '../helpers/db.js';
import { migrate } from '../helpers/engine.js';

export const BRANCH_A = { ...tableMigration(445, 'chat'), ...tableMigration(446, 'a_one'), ...tableMigration(447, 'a_two') };
export const BRANCH_B = { ...tableMigration(445, 'chat'), ...tableMigration(450, 'b_only') };

export type Setup = 'conflicted' | 'clean';

export async function scenario(setup: Setup, database?: string): Promise<{ p: Project; db: string }> {
  const db = database ?? (await createDatabase());
  const p = new Project(db);
  p.setMigrations(BRANCH_A);
  await migrate(p.settings());
  await query(db, "INSERT INTO chat (note) SELECT 'row ' || g FROM generate_series(1, 100) g");
  if (setup === 'conflicted') p.setMigrations(BRANCH_B);
  return { p, db };
}

async function trackingTables(db: string): Promise<unknown> {
  const found: Record<string, unknown> = {};
  for (const table of ['schema_migrations', 'gorp_migrations', 'goose_db_version']) {
    const [exists] = await query<{ here: boolean }>(db, 'SELECT to_regclass($1) IS NOT NULL AS here', [table]);
    if (exists?.here) found[table] = await query(db, `SELECT * FROM ${table} ORDER BY 1`);
  }
  return found;
}

export async function fingerprint(db: string): Promise<unknown> {
  return {
    schema: await schemaSnapshot(db),
    schemas: await query(db, "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1"),
    // Every tool's tracking table there is, whatever its shape (issue 19's cases put another tool's there).
    version: await trackingTables(db),
    tracking: await query(db, 'SELECT version::text, filename, down_sql FROM _dbguard.applied_migrations ORDER BY version'),
    chat: await query(db, 'SELECT count(*)::int AS n, md5(string_agg(note, \',\' ORDER BY id)) AS digest FROM chat'),
  };
}

export interface CliResult {
  readonly status: number;
  readonly json: { ok: boolean; error?: { code: string; message: string; hint: string | null } };
  readonly stdout: string;
  readonly stderr: string;
}

/** An unprivileged user for permission cases (root reads everything regardless of modes). */
export const NOBODY = 65534;

/** Lets the unprivileged user write the state dir (as a developer owns their checkout). */
export function openUpState(p: Project): void {
  const walk = (path: string) => {
    chmodSync(path, statSync(path).isDirectory() ? 0o777 : 0o666);
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(join(p.root, '.dbguard'));
}

export function dbguard(p: Project, args: readonly string[], env: NodeJS.ProcessEnv = {}, asNobody = false): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args, '--json'], {
    cwd: p.root, encoding: 'utf8', input: '', timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: '/tmp', NO_COLOR: '1', ...env },
    ...(asNobody && process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let json: CliResult['json'];
  try {
    json = JSON.parse(result.stdout);
  } catch {
    json = { ok: false, error: { code: `NO JSON: ${result.stdout}${result.stderr}`, message: '', hint: null } };
  }
  return { status: result.status ?? -1, json, stdout: result.stdout, stderr: result.stderr };
}
