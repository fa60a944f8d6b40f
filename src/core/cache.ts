/**
 * The migration cache (DESIGN §1): which migration files were applied, and whether each one's down SQL
 * has been captured. Its only job is to let the hook answer "did an applied migration disappear from
 * disk?" without starting Postgres, so a corrupt cache must be an error, never "clean".
 */
import * as v from 'valibot';
import { compareVersions, parseMigrationName } from './catalog.js';
import { DbguardError } from './errors.js';

export const CACHE_FORMAT_VERSION = 1;

export interface CacheEntry {
  readonly filename: string;
  readonly downCaptured: boolean;
}

export interface MigrationCache {
  /** Which database this cache describes (see databaseIdentity); absent in hand-written caches. */
  readonly database: string | undefined;
  readonly migrations: ReadonlyMap<bigint, CacheEntry>;
}

const VERSION_KEY = /^[0-9]+$/;

const CacheSchema = v.strictObject({
  version: v.literal(CACHE_FORMAT_VERSION),
  database: v.optional(v.string()),
  migrations: v.record(v.pipe(v.string(), v.regex(VERSION_KEY)), v.string()),
  downCaptured: v.optional(v.array(v.pipe(v.string(), v.regex(VERSION_KEY)))),
});

const FIX = 'dbguard capture';

function corrupt(message: string, details: Record<string, unknown> = {}): DbguardError {
  return new DbguardError('CACHE_CORRUPT', `migration cache is corrupt: ${message}`, {
    hint: `${FIX}   (rebuilds the cache from the database)`,
    details,
  });
}

/** Parses and validates the cache file's text. */
export function parseCache(text: string): MigrationCache {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw corrupt(`not valid JSON (${(error as Error).message})`);
  }
  if (typeof raw === 'object' && raw !== null && 'version' in raw && raw.version !== CACHE_FORMAT_VERSION) {
    throw new DbguardError('CACHE_VERSION_UNSUPPORTED', `migration cache has format version ${JSON.stringify(raw.version)}; this dbguard reads version ${CACHE_FORMAT_VERSION}`, {
      hint: `${FIX}   (rewrites the cache in this version's format)`,
    });
  }
  const result = v.safeParse(CacheSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const where = issue ? v.getDotPath(issue) ?? '(root)' : '(root)';
    throw corrupt(`${where}: ${issue?.message ?? 'invalid'}`);
  }
  const doc = result.output;
  const captured = new Set((doc.downCaptured ?? []).map((key) => BigInt(key)));
  const migrations = new Map<bigint, CacheEntry>();
  for (const [key, filename] of Object.entries(doc.migrations)) {
    const version = BigInt(key);
    const parsed = parseMigrationName(filename);
    if (!parsed || parsed.direction !== 'up' || parsed.version !== version) {
      throw corrupt(`entry ${key} names "${filename}", which is not the up file of version ${key}`);
    }
    if (migrations.has(version)) throw corrupt(`version ${key} appears twice`);
    migrations.set(version, { filename, downCaptured: captured.has(version) });
  }
  for (const version of captured) {
    if (!migrations.has(version)) throw corrupt(`downCaptured lists ${version}, which has no entry`);
  }
  return { database: doc.database, migrations };
}

/** Serializes deterministically (ascending versions) so the file diffs well and tests can compare. */
export function serializeCache(cache: MigrationCache): string {
  const versions = [...cache.migrations.keys()].sort(compareVersions);
  const migrations: Record<string, string> = {};
  for (const version of versions) migrations[version.toString()] = (cache.migrations.get(version) as CacheEntry).filename;
  const downCaptured = versions.filter((version) => cache.migrations.get(version)?.downCaptured).map(String);
  const doc = {
    version: CACHE_FORMAT_VERSION,
    ...(cache.database === undefined ? {} : { database: cache.database }),
    migrations,
    downCaptured,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Refuses a cache written for another database (copied state dir, changed URL). */
export function assertCacheBelongsTo(cache: MigrationCache, database: string): void {
  if (cache.database !== undefined && cache.database !== database) {
    throw new DbguardError('CACHE_OTHER_DATABASE', `migration cache describes database "${cache.database}", not "${database}"`, {
      hint: `${FIX}   (rebuilds the cache for the configured database)`,
      details: { cacheDatabase: cache.database, database },
    });
  }
}

export function uncapturedVersions(cache: MigrationCache): bigint[] {
  return [...cache.migrations].filter(([, entry]) => !entry.downCaptured).map(([version]) => version).sort(compareVersions);
}
