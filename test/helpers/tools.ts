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

export const DRIZZLE_KIT = join(PACKAGE_ROOT, 'node_modules', '.bin', 'drizzle-kit');

/** The real `drizzle-kit migrate`, with a drizzle.config.js in cwd (dialect postgresql, the url, `out`). */
export function drizzleKitMigrate(cwd: string, url: string, out = 'drizzle'): RunResult {
  writeFileSync(join(cwd, 'drizzle.config.js'), `module.exports = ${JSON.stringify({ dialect: 'postgresql', out, dbCredentials: { url } })};\n`);
  return run(DRIZZLE_KIT, ['migrate', '--config', 'drizzle.config.js'], cwd);
}

/** An app calling drizzle-orm's migrate() on start (test/fixtures/drizzle-app.mjs), on `dir` (relative to cwd). */
export function drizzleAppMigrate(cwd: string, url: string, dir = 'drizzle'): RunResult {
  return run(process.execPath, [join(PACKAGE_ROOT, 'test', 'fixtures', 'drizzle-app.mjs'), dir], cwd, { DATABASE_URL: url });
}

/** A journal as drizzle-kit generate writes it (meta/_journal.json), for `[tag, when]` entries in order. */
export function drizzleJournal(entries: ReadonlyArray<readonly [string, number]>): string {
  return `${JSON.stringify({ version: '7', dialect: 'postgresql', entries: entries.map(([tag, when], idx) => ({ idx, version: '7', when, tag, breakpoints: true })) }, null, 2)}\n`;
}
