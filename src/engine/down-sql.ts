/**
 * Where down SQL comes from, behind one interface (the way kysely's migrator puts "where migrations
 * come from" behind a provider): the tracking table, the previous HEAD's tree, git history — asked in
 * that order, each only for what the ones before it did not find (DESIGN §3).
 */
import { downFileFor, parseMigrationName } from '../core/catalog.js';
import type { Candidate, DownSql, DownSqlOrigin } from '../core/plan.js';
import type { PgClient } from '../db/client.js';
import { readTrackedDownSql } from '../db/tracking.js';
import { decodeSql } from '../fs/migration-files.js';

export interface DownSqlSource {
  readonly origin: DownSqlOrigin;
  find(candidates: readonly Candidate[]): Promise<Map<bigint, DownSql>>;
}

export async function findDownSql(sources: readonly DownSqlSource[], candidates: readonly Candidate[]): Promise<Map<bigint, DownSql>> {
  const found = new Map<bigint, DownSql>();
  for (const source of sources) {
    const remaining = candidates.filter((c) => !found.has(c.version));
    if (remaining.length === 0) break;
    for (const [version, downSql] of await source.find(remaining)) found.set(version, downSql);
  }
  return found;
}

export function trackingTableSource(client: PgClient): DownSqlSource {
  return { origin: 'tracking-table', find: (candidates) => readTrackedDownSql(client, candidates) };
}

function toText(text: string, file: string): string | null {
  try {
    return decodeSql(Buffer.from(text, 'utf8'), file);
  } catch {
    return null;
  }
}

/** The tree of a revision (post-checkout's `$1`), which still holds the files the old branch had. */
export function previousTreeSource(repoDir: string, rev: string, migrationsDir: string): DownSqlSource {
  return {
    origin: 'previous-tree',
    async find(candidates) {
      const { openRepo, listTree, showFile } = await import('../git/repo.js');
      const git = await openRepo(repoDir);
      const files = await listTree(git, rev, migrationsDir);
      const found = new Map<bigint, DownSql>();
      for (const candidate of candidates) {
        const up = candidate.filename ?? files.find((f) => parseMigrationName(f)?.version === candidate.version && f.endsWith('.up.sql'));
        if (!up || !files.includes(downFileFor(up))) continue;
        const text = await showFile(git, rev, `${migrationsDir}/${downFileFor(up)}`);
        const sql = text === null ? null : toText(text, downFileFor(up));
        if (sql !== null) found.set(candidate.version, { version: candidate.version, filename: up, sql, origin: 'previous-tree', ref: rev });
      }
      return found;
    },
  };
}

/** Any commit reachable from a ref (a deleted branch's commits survive behind a tag or another branch). */
export function gitHistorySource(repoDir: string, migrationsDir: string): DownSqlSource {
  return {
    origin: 'git-history',
    async find(candidates) {
      const { openRepo, downFilesInHistory, showFile, isInsideRepo } = await import('../git/repo.js');
      const git = await openRepo(repoDir);
      // Not a git project: there is no history to look in, which is "not found", not a failure.
      if (!(await isInsideRepo(git))) return new Map();
      const history = await downFilesInHistory(git, migrationsDir);
      const found = new Map<bigint, DownSql>();
      for (const candidate of candidates) {
        const wantedDown = candidate.filename === undefined ? undefined : downFileFor(candidate.filename);
        const hit = history.find(({ file }) => (wantedDown === undefined ? parseMigrationName(file)?.version === candidate.version : file === wantedDown));
        if (!hit) continue;
        const text = await showFile(git, hit.commit, `${migrationsDir}/${hit.file}`);
        const sql = text === null ? null : toText(text, hit.file);
        const filename = candidate.filename ?? hit.file.replace(/\.down\.sql$/, '.up.sql');
        if (sql !== null) found.set(candidate.version, { version: candidate.version, filename, sql, origin: 'git-history', ref: hit.commit });
      }
      return found;
    },
  };
}
