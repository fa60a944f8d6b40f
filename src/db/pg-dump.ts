/**
 * pg_dump / psql from PATH (DESIGN §12): the snapshot of an external database that other sessions
 * use, where a copy database cannot be made. The dump is plain SQL; restoring runs it with psql in one
 * transaction after dropping every user schema, so a failed restore leaves the database as it was.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import type { ConnectionTarget } from '../core/connection.js';
import { DbguardError } from '../core/errors.js';
import { quoteIdentifier } from './client.js';

function toolMajor(tool: string): number | null {
  const result = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) return null;
  const match = /(\d+)(?:\.\d+)?/.exec(result.stdout);
  return match ? Number(match[1]) : null;
}

/** pg_dump and psql on PATH (the lower of their major versions), or null. */
export function findDumpTools(): { major: number } | null {
  const dump = toolMajor('pg_dump');
  const psql = toolMajor('psql');
  return dump === null || psql === null ? null : { major: Math.min(dump, psql) };
}

function environment(target: ConnectionTarget): NodeJS.ProcessEnv {
  return {
    ...process.env, PGHOST: target.host, PGPORT: String(target.port), PGUSER: target.user, PGDATABASE: target.database,
    ...(target.password ? { PGPASSWORD: target.password } : {}), PGAPPNAME: 'dbguard', PGCONNECT_TIMEOUT: '10',
  };
}

function run(tool: string, args: readonly string[], target: ConnectionTarget, what: string): void {
  const result = spawnSync(tool, args, { env: environment(target), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status === 0) return;
  const reason = (result.stderr || result.error?.message || `exit ${result.status}`).trim().split('\n').slice(-3).join(' ');
  throw new DbguardError('SNAPSHOT_FAILED', `${what} failed: ${reason}; nothing was changed`, {
    hint: 'dbguard snapshot list   (then run the command again, or add --no-snapshot)', details: { tool },
  });
}

export function dumpDatabase(target: ConnectionTarget, file: string): void {
  run('pg_dump', ['--format=plain', '--no-owner', '--no-privileges', '--quote-all-identifiers', '--file', file], target, `pg_dump of "${target.database}"`);
}

/** `schemas`: every user schema the database has now; they go, the dump brings back what it held. */
export function restoreDump(target: ConnectionTarget, file: string, schemas: readonly string[], preludeFile: string): void {
  const drops = schemas.map((name) => `DROP SCHEMA IF EXISTS ${quoteIdentifier(name)} CASCADE;`).join('\n');
  // pg_dump leaves public out when it is the default one; create it so the dump's objects have a home.
  writeFileSync(preludeFile, `${drops}\nCREATE SCHEMA IF NOT EXISTS public;\n`, { flag: 'wx', mode: 0o600 });
  try {
    run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', preludeFile, '-f', file], target, `restoring "${target.database}" with psql`);
  } finally {
    rmSync(preludeFile, { force: true });
  }
}
