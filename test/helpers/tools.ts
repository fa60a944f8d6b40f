/** The real migration tools (DESIGN §15): dbmate from npm, sql-migrate from Debian, run as a user would. */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT, run, type RunResult } from './git.js';

export const DBMATE = join(PACKAGE_ROOT, 'node_modules', '.bin', 'dbmate');
export const SQL_MIGRATE = '/usr/bin/sql-migrate';
export const hasSqlMigrate = existsSync(SQL_MIGRATE);

/** lib/pq, which both tools use, wants sslmode spelt out for a local server. */
const withSslDisabled = (url: string): string => `${url}${url.includes('?') ? '&' : '?'}sslmode=disable`;

/** `dbmate <args>` against `url`, migrations in `dir` (relative to cwd), no schema dump unless asked. */
export function dbmate(cwd: string, url: string, args: readonly string[], dir = 'db/migrations'): RunResult {
  return run(DBMATE, ['--url', withSslDisabled(url), '--migrations-dir', dir, ...args], cwd);
}

/** `sql-migrate <command>` with a dbconfig.yml in cwd pointing at `url` and `dir`. */
export function sqlMigrate(cwd: string, url: string, command: string, dir = 'migrations'): RunResult {
  writeFileSync(join(cwd, 'dbconfig.yml'), `development:\n  dialect: postgres\n  datasource: ${withSslDisabled(url)}\n  dir: ${dir}\n`);
  return run(SQL_MIGRATE, [command], cwd);
}

/** dbmate status's lines: the files it marks applied and pending, and its counts. */
export function dbmateStatus(output: string): { applied: string[]; pending: string[] } {
  const lines = output.split('\n');
  return {
    applied: lines.filter((l) => l.startsWith('[X] ')).map((l) => l.slice(4).trim()),
    pending: lines.filter((l) => l.startsWith('[ ] ')).map((l) => l.slice(4).trim()),
  };
}

/** sql-migrate status's table: the ids it shows applied (a date) and not ("no"). */
export function sqlMigrateStatus(output: string): { applied: string[]; pending: string[] } {
  const rows = output.split('\n').filter((l) => l.startsWith('|')).map((l) => l.split('|').map((cell) => cell.trim()).filter(Boolean))
    .filter((cells) => cells.length === 2 && cells[0] !== 'MIGRATION');
  return { applied: rows.filter((c) => c[1] !== 'no').map((c) => c[0] as string), pending: rows.filter((c) => c[1] === 'no').map((c) => c[0] as string) };
}
