/**
 * Where down SQL comes from, behind one interface (the way kysely's migrator puts "where migrations
 * come from" behind a provider): a down file restored in the working tree, the tracking table, the
 * previous HEAD's tree, git history — asked in that order, each only for what the ones before it did
 * not find (DESIGN §3). A fix wins: a newer down file whose up file is unchanged (same sha256) replaces
 * the copy stored at apply time.
 */
import { createHash } from 'node:crypto';
import type { Catalog } from '../core/catalog.js';
import type { MigrationFormat } from '../core/format.js';
import type { Candidate, DownSql, DownSqlOrigin } from '../core/plan.js';
import type { PgClient } from '../db/client.js';
import { readTrackedDownSql } from '../db/tracking.js';
import type { DatabaseFacts } from '../db/facts.js';
import { decodeSql, readMigrationSql } from '../fs/migration-files.js';

export interface DownSqlSource {
  readonly origin: DownSqlOrigin;
  find(candidates: readonly Candidate[]): Promise<Map<bigint, DownSql>>;
}

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * Asks the sources in order. `appliedSha` (version → the up file's sha256 when applied) lets a later
 * git source replace a tracking-table copy: same up file, different down file = the down was fixed.
 */
export async function findDownSql(
  sources: readonly DownSqlSource[], candidates: readonly Candidate[], appliedSha: ReadonlyMap<bigint, string> = new Map(),
): Promise<Map<bigint, DownSql>> {
  const found = new Map<bigint, DownSql>();
  for (const source of sources) {
    const remaining = candidates.filter((c) => !found.has(c.version));
    if (remaining.length === 0) break;
    for (const [version, downSql] of await source.find(remaining)) found.set(version, downSql);
  }
  const stored = candidates.filter((c) => found.get(c.version)?.origin === 'tracking-table' && appliedSha.has(c.version));
  const gitSources = sources.filter((s) => s.origin === 'previous-tree' || s.origin === 'git-history');
  for (const source of stored.length > 0 ? gitSources : []) {
    const pending = stored.filter((c) => found.get(c.version)?.origin === 'tracking-table');
    if (pending.length === 0) break;
    for (const [version, newer] of await source.find(pending)) {
      const old = found.get(version) as DownSql;
      if (newer.upSha256 === appliedSha.get(version) && newer.sql !== old.sql) found.set(version, { ...newer, changedSinceApplied: true });
    }
  }
  return found;
}

/** Up SQL for the given candidates from the git sources (the classifier's input for empty downs). */
export async function findUpSql(sources: readonly DownSqlSource[], candidates: readonly Candidate[]): Promise<Map<bigint, string>> {
  const upSql = new Map<bigint, string>();
  for (const source of sources.filter((s) => s.origin === 'previous-tree' || s.origin === 'git-history')) {
    const remaining = candidates.filter((c) => !upSql.has(c.version));
    if (remaining.length === 0) break;
    for (const [version, found] of await source.find(remaining)) if (found.upSql !== undefined) upSql.set(version, found.upSql);
  }
  return upSql;
}

/**
 * `facts`: what the run read of the table, down SQL included (§3's candidates are versions not on disk,
 * whose down SQL came with the rows): asked again only for the versions it left there.
 */
export function trackingTableSource(client: PgClient, facts?: DatabaseFacts): DownSqlSource {
  if (facts === undefined) return { origin: 'tracking-table', find: (candidates) => readTrackedDownSql(client, candidates) };
  return {
    origin: 'tracking-table',
    async find(candidates) {
      const found = new Map<bigint, DownSql>();
      const ask = candidates.filter((c) => facts.downSqlNotRead.has(c.version));
      for (const candidate of candidates) {
        const stored = facts.storedDownSql.get(candidate.version);
        if (stored !== undefined && (candidate.filename === undefined || candidate.filename === stored.filename)) found.set(candidate.version, stored);
      }
      for (const [version, down] of await readTrackedDownSql(client, ask, facts.trackingReady || undefined)) found.set(version, down);
      return found;
    },
  };
}

/** A down file put back into the migrations folder (its up file is gone from this branch). */
export function workingTreeSource(dir: string, catalog: Catalog): DownSqlSource {
  return {
    origin: 'working-tree',
    async find(candidates) {
      const found = new Map<bigint, DownSql>();
      for (const candidate of candidates) {
        const onDisk = catalog.byVersion.get(candidate.version);
        if (!candidate.filename || onDisk === undefined || onDisk.up !== undefined || onDisk.down !== catalog.format.downFileFor(candidate.filename)) continue;
        const { sql } = readMigrationSql(catalog.format, dir, onDisk.down, 'down');
        found.set(candidate.version, { version: candidate.version, filename: candidate.filename, sql, origin: 'working-tree' });
      }
      return found;
    },
  };
}

function toText(text: string, file: string): string | null {
  try {
    return decodeSql(Buffer.from(text, 'utf8'), file);
  } catch {
    return null;
  }
}

/** A direction's SQL in a file's text from git; null when its markers are wrong there (not a usable source). */
function sectionIn(format: MigrationFormat, text: string | null, direction: 'up' | 'down', file: string): string | null {
  if (text === null) return null;
  try {
    return format.sectionOf(text, direction, file, process.env);
  } catch {
    return null;
  }
}

type GitApi = typeof import('../git/repo.js');

/** A migration to read at a commit: its up file, and where its down file is found. */
interface ReadWanted {
  readonly version: bigint;
  readonly rev: string;
  readonly up: string;
}

/**
 * Reads migrations' down (and up) files at commits into DownSql, all in one git process; a migration
 * whose down file there is unreadable or cut wrongly is not found.
 */
async function readAt(format: MigrationFormat, git: ReturnType<GitApi['openRepo']>, api: GitApi, migrationsDir: string, origin: DownSqlOrigin, wanted: readonly ReadWanted[]): Promise<Map<bigint, DownSql>> {
  const files = wanted.flatMap(({ rev, up }) => [{ rev, path: `${migrationsDir}/${format.downFileFor(up)}` }, ...(format.singleFile ? [] : [{ rev, path: `${migrationsDir}/${up}` }])]);
  const texts = await api.showFiles(git, files);
  const textAt = (rev: string, file: string) => texts.get(api.atRevision(rev, `${migrationsDir}/${file}`)) ?? null;
  const found = new Map<bigint, DownSql>();
  for (const { version, rev, up } of wanted) {
    const downFile = format.downFileFor(up);
    const downText = textAt(rev, downFile);
    const sql = downText === null ? null : sectionIn(format, toText(downText, downFile), 'down', downFile);
    if (sql === null) continue;
    const upText = format.singleFile ? downText : textAt(rev, up);
    const upFile = upText === null ? null : toText(upText, up);
    const upSql = sectionIn(format, upFile, 'up', up);
    found.set(version, { version, filename: up, sql, origin, ref: rev, ...(upSql === null || upFile === null ? {} : { upSql, upSha256: sha256(upFile) }) });
  }
  return found;
}

/** The tree of a revision (post-checkout's `$1`), which still holds the files the old branch had. */
export function previousTreeSource(repoDir: string, rev: string, migrationsDir: string, format: MigrationFormat): DownSqlSource {
  return {
    origin: 'previous-tree',
    async find(candidates) {
      // A tool that writes no down SQL has none in any tree.
      if (format.noDownSql !== undefined) return new Map();
      const api = await import('../git/repo.js');
      const git = api.openRepo(repoDir);
      const files = await api.listTree(git, rev, migrationsDir);
      const wanted: ReadWanted[] = [];
      for (const candidate of candidates) {
        const up = candidate.filename ?? files.find((f) => format.parseFileName(f)?.version === candidate.version && format.isUpFile(f));
        if (up && files.includes(format.downFileFor(up))) wanted.push({ version: candidate.version, rev, up });
      }
      return readAt(format, git, api, migrationsDir, 'previous-tree', wanted);
    },
  };
}

/** Any commit reachable from a ref (a deleted branch's commits survive behind a tag or another branch). */
export function gitHistorySource(repoDir: string, migrationsDir: string, format: MigrationFormat): DownSqlSource {
  return {
    origin: 'git-history',
    async find(candidates) {
      if (format.noDownSql !== undefined) return new Map();
      const api = await import('../git/repo.js');
      const git = api.openRepo(repoDir);
      let history: Awaited<ReturnType<GitApi['downFilesInHistory']>>;
      try {
        history = await api.downFilesInHistory(git, migrationsDir, format);
      } catch (error) {
        // Not a git project: there is no history to look in, which is "not found", not a failure.
        if (!(await api.isInsideRepo(git))) return new Map();
        throw error;
      }
      const wanted: ReadWanted[] = [];
      for (const candidate of candidates) {
        const wantedDown = candidate.filename === undefined ? undefined : format.downFileFor(candidate.filename);
        const hit = history.find(({ file }) => (wantedDown === undefined ? format.parseFileName(file)?.version === candidate.version : file === wantedDown));
        if (hit) wanted.push({ version: candidate.version, rev: hit.commit, up: candidate.filename ?? format.upFileFor(hit.file) });
      }
      return readAt(format, git, api, migrationsDir, 'git-history', wanted);
    },
  };
}
