/**
 * Which processes are this data dir's postgres (Linux's /proc; elsewhere the PID alone is trusted):
 * a reused PID after a reboot is not, and a server whose data dir was deleted under it is an orphan.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';

export function readTextOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}


/** Linux: whether `pid` is a postgres whose command line names this data dir; elsewhere, trust it. */
export function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (!existsSync('/proc/self/cmdline')) return true;
  const cmdline = readTextOr(`/proc/${pid}/cmdline`, '').split('\0');
  return /postgres$/.test(cmdline[0] ?? '') && cmdline.includes(resolve(dataDir));
}

/** Postgres processes whose working directory is this data dir, deleted under them (Linux). */
function orphansOf(dataDir: string): number[] {
  if (!existsSync('/proc/self/cwd')) return [];
  const deleted = `${resolve(dataDir)} (deleted)`;
  return readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name)).map(Number)
    .filter((pid) => readLinkOr(`/proc/${pid}/cwd`) === deleted && /postgres/.test(readTextOr(`/proc/${pid}/comm`, '')));
}

function readLinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

export async function stopOrphanedServers(dataDir: string): Promise<void> {
  const pids = orphansOf(dataDir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGQUIT'); // immediate shutdown: its files are gone anyway
    } catch {
      // Already gone.
    }
  }
  for (let waited = 0; waited < 5_000 && orphansOf(dataDir).length > 0; waited += 50) await new Promise((r) => setTimeout(r, 50));
}
