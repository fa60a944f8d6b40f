/**
 * The migration cache (DESIGN §1): which migration files were applied, and whether each one's down SQL
 * has been captured. Its only job is to let the hook answer "did an applied migration disappear from
 * disk?" without starting Postgres, so a corrupt cache must be an error, never "clean".
 */
import * as v from 'valibot';
import { compareVersions } from './catalog.js';
import { DbguardError } from './errors.js';
import { NO_DOWN_KINDS, type NoDown } from './no-down.js';
import type { MigrationFormat } from './format.js';

export const CACHE_FORMAT_VERSION = 1;

export interface CacheEntry {
  readonly filename: string;
  /** Its down SQL is held, and is SQL to run (a blank down is not captured down SQL). */
  readonly downCaptured: boolean;
  /** Why it has none to run, when known (§18): what a rollback through it would do, without the database. */
  readonly noDown?: NoDown;
  /** sha256 of the up file as applied (tells a rename from an edit without the database, §2). */
  readonly upSha256?: string;
}

export interface MigrationCache {
  /** Which database this cache describes (see databaseIdentity); absent in hand-written caches. */
  readonly database: string | undefined;
  readonly migrations: ReadonlyMap<bigint, CacheEntry>;
  /**
   * The version the database was dirty at (a migration only half applied) when the cache was last
   * written from it: check without the database must not call it clean (issue 25.4).
   */
  readonly dirty?: bigint;
}

const VERSION_KEY = /^[0-9]+$/;

// The envelope is checked by the schema; the entries (20,000 in a big project, read on every checkout)
// in one hand loop below, which is several times faster than a per-entry schema.
const CacheSchema = v.strictObject({
  version: v.literal(CACHE_FORMAT_VERSION),
  database: v.optional(v.string()),
  migrations: v.custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'must be an object'),
  downCaptured: v.optional(v.array(v.unknown())),
  noDown: v.optional(v.record(v.pipe(v.string(), v.regex(/^[0-9]+$/)), v.strictObject({ kind: v.picklist(NO_DOWN_KINDS), why: v.pipe(v.string(), v.maxLength(4096)) }))),
  upSha256: v.optional(v.record(v.pipe(v.string(), v.regex(/^[0-9]+$/)), v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)))),
  dirty: v.optional(v.pipe(v.string(), v.regex(/^[0-9]+$/))),
  /** The migration format whose file names it lists; absent: golang-migrate (caches from before formats). */
  format: v.optional(v.string()),
});

const FIX = 'dbguard capture';

function corrupt(message: string, details: Record<string, unknown> = {}): DbguardError {
  return new DbguardError('CACHE_CORRUPT', `migration cache is corrupt: ${message}`, {
    hint: `${FIX}   (rebuilds the cache from the database)`,
    details,
  });
}

interface ValidatedCache {
  readonly database: string | undefined;
  readonly dirty: string | undefined;
  readonly captured: ReadonlySet<string>;
  readonly shas: Readonly<Record<string, string>>;
  readonly noDown: Readonly<Record<string, NoDown>>;
  readonly migrations: Record<string, unknown>;
}

/** JSON and envelope checks shared by both readers below. */
function validateEnvelope(text: string, format: MigrationFormat): ValidatedCache {
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
  const written = doc.format ?? 'golang-migrate';
  if (written !== format.name) {
    // Its names would read as corrupt under the other format: say what changed instead.
    throw new DbguardError('CACHE_OTHER_FORMAT', `migration cache lists ${written}'s migrations, but the format is now ${format.name}`, {
      hint: `set "format": ${JSON.stringify(written).slice(0, 40)} in dbguard.config.json if that is the project's tool, or ${FIX} to rebuild it for ${format.name}`,
      details: { cacheFormat: written, format: format.name },
    });
  }
  const captured = new Set<string>();
  for (const key of doc.downCaptured ?? []) {
    if (typeof key !== 'string' || !VERSION_KEY.test(key)) throw corrupt(`downCaptured: ${JSON.stringify(key)} is not a version`);
    captured.add(canonicalVersion(key));
  }
  return { database: doc.database, dirty: doc.dirty, captured, migrations: doc.migrations, shas: doc.upSha256 ?? {}, noDown: doc.noDown ?? {} };
}

const canonicalVersion = (digits: string): string => digits.replace(/^0+(?=[0-9])/, '');
/** `.` in the migration name pattern excludes these. */
const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;

/**
 * Validates every entry and calls `visit` with its canonical version key and file name. A file name
 * written by dbguard starts with the key itself, which is checked without the full pattern; anything
 * else goes through the format's own parse.
 */
function forEachEntry(cache: ValidatedCache, format: MigrationFormat, visit: (key: string, filename: string) => void): void {
  const keys = Object.keys(cache.migrations);
  // JSON object keys are unique, so duplicates can only come from leading zeros ("01" and "1").
  const seen = keys.some((key) => key.charCodeAt(0) === 48) ? new Set<string>() : null;
  for (const rawKey of keys) {
    const filename = cache.migrations[rawKey];
    if (!VERSION_KEY.test(rawKey)) throw corrupt(`migrations: key ${JSON.stringify(rawKey)} is not a version`);
    if (typeof filename !== 'string') throw corrupt(`migrations.${rawKey}: must be a file name`);
    const key = seen ? canonicalVersion(rawKey) : rawKey;
    const fast = filename.charCodeAt(key.length) === 95 && filename.startsWith(key) && filename.endsWith(format.upSuffix)
      && filename.length > key.length + 1 + format.upSuffix.length && !LINE_TERMINATOR.test(filename);
    if (!fast) {
      const parsed = format.parseFileName(filename);
      // Versions from an index (Drizzle's journal): a file another branch's index lists is not in this one,
      // or is this one's under another version (two branches each generated a 0001_profile.sql).
      const elsewhere = format.index !== undefined && (!parsed || parsed.version.toString() !== key) && format.isUpFile(filename) && !LINE_TERMINATOR.test(filename);
      if (!elsewhere && (!parsed || parsed.direction !== 'up' || parsed.version.toString() !== key)) {
        throw corrupt(`entry ${rawKey} names "${filename}", which is not the up file of version ${rawKey}`);
      }
    }
    if (seen) {
      if (seen.has(key)) throw corrupt(`version ${rawKey} appears twice`);
      seen.add(key);
    }
    visit(key, filename);
  }
  for (const key of cache.captured) {
    if (seen ? !seen.has(key) : !Object.hasOwn(cache.migrations, key)) throw corrupt(`downCaptured lists ${key}, which has no entry`);
  }
  for (const key of Object.keys(cache.noDown)) {
    if (!Object.hasOwn(cache.migrations, key)) throw corrupt(`noDown lists ${key}, which has no entry`);
  }
}

/** Parses and validates the cache file's text. */
export function parseCache(text: string, format: MigrationFormat): MigrationCache {
  const validated = validateEnvelope(text, format);
  const migrations = new Map<bigint, CacheEntry>();
  forEachEntry(validated, format, (key, filename) => {
    const upSha256 = validated.shas[key];
    const noDown = validated.noDown[key];
    migrations.set(BigInt(key), { filename, downCaptured: validated.captured.has(key), ...(upSha256 === undefined ? {} : { upSha256 }), ...(noDown === undefined ? {} : { noDown }) });
  });
  return { database: validated.database, migrations, ...(validated.dirty === undefined ? {} : { dirty: BigInt(validated.dirty) }) };
}

export interface CacheSummary {
  readonly database: string | undefined;
  readonly filenames: readonly string[];
  /**
   * Versions whose down SQL is not captured and may still be found (in cache order): not those whose
   * down is blank, which no other place holds either.
   */
  readonly uncaptured: readonly string[];
}

/**
 * The hook's reader: the same validation as parseCache, without building the version map. All the
 * clean path needs is the applied file names.
 */
export function summarizeCache(text: string, format: MigrationFormat): CacheSummary {
  const validated = validateEnvelope(text, format);
  const filenames: string[] = [];
  const uncaptured: string[] = [];
  forEachEntry(validated, format, (key, filename) => {
    filenames.push(filename);
    const kind = validated.noDown[key]?.kind;
    // A tool that writes no down SQL (Drizzle Kit, Prisma Migrate) has none to look for anywhere.
    if (!validated.captured.has(key) && (kind === undefined || (kind === 'missing' && format.noDownSql === undefined))) uncaptured.push(key);
  });
  return { database: validated.database, filenames, uncaptured };
}

/** Serializes deterministically (ascending versions) so the file diffs well and tests can compare. */
export function serializeCache(cache: MigrationCache, format: MigrationFormat): string {
  const versions = [...cache.migrations.keys()].sort(compareVersions);
  const migrations: Record<string, string> = {};
  for (const version of versions) migrations[version.toString()] = (cache.migrations.get(version) as CacheEntry).filename;
  const downCaptured = versions.filter((version) => cache.migrations.get(version)?.downCaptured).map(String);
  const upSha256: Record<string, string> = {};
  const noDown: Record<string, NoDown> = {};
  for (const version of versions) {
    const entry = cache.migrations.get(version) as CacheEntry;
    if (entry.upSha256 !== undefined) upSha256[version.toString()] = entry.upSha256;
    if (entry.noDown !== undefined) noDown[version.toString()] = { kind: entry.noDown.kind, why: entry.noDown.why };
  }
  const doc = {
    version: CACHE_FORMAT_VERSION,
    ...(cache.database === undefined ? {} : { database: cache.database }),
    migrations,
    downCaptured,
    ...(Object.keys(upSha256).length > 0 ? { upSha256 } : {}),
    ...(cache.dirty === undefined ? {} : { dirty: cache.dirty.toString() }),
    ...(Object.keys(noDown).length > 0 ? { noDown } : {}),
    // golang-migrate's caches stay as they were before there were formats.
    ...(format.name === 'golang-migrate' ? {} : { format: format.name }),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Refuses a cache written for another database (copied state dir, changed URL). */
export function assertCacheBelongsTo(cache: { readonly database: string | undefined }, database: string): void {
  if (cache.database !== undefined && cache.database !== database) {
    throw new DbguardError('CACHE_OTHER_DATABASE', `migration cache describes database "${cache.database}", not "${database}"`, {
      hint: `${FIX}   (rebuilds the cache for the configured database)`,
      details: { cacheDatabase: cache.database, database },
    });
  }
}

/** An applied migration without down SQL to run, and why when known. */
export interface WithoutDown {
  readonly version: bigint;
  readonly filename: string;
  readonly noDown: NoDown | null;
}

/** The cache's applied migrations without down SQL to run (none found, or a blank one), ascending. */
export function withoutDownSql(cache: MigrationCache): WithoutDown[] {
  return uncapturedVersions(cache).map((version) => {
    const entry = cache.migrations.get(version) as CacheEntry;
    return { version, filename: entry.filename, noDown: entry.noDown ?? null };
  });
}

/** Applied versions without down SQL to run: none found, or a blank one. */
export function uncapturedVersions(cache: MigrationCache): bigint[] {
  return [...cache.migrations].filter(([, entry]) => !entry.downCaptured).map(([version]) => version).sort(compareVersions);
}
