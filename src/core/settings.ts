/**
 * Configuration (DESIGN §8): the validated shape of dbguard.config.json (or package.json's "dbguard"
 * key) merged with environment overrides. Pure: the fs adapter reads the files and hands the text here.
 */
import * as v from 'valibot';
import { DbguardError } from './errors.js';
import { FORMAT_NAMES, isFormatName, type FormatName } from './format.js';
import { worktreeDatabaseName } from './kept-database.js';
import { checkoutServer, type CheckoutPlace } from './checkout-place.js';

export const CONFIG_FILE = 'dbguard.config.json';
export const DEFAULT_MIGRATION_DIRS = ['migrations', 'db/migrations', 'database/migrations', 'drizzle', 'prisma/migrations'] as const;
export const DEFAULT_STATE_DIR = '.dbguard';
export const DEFAULT_EMBEDDED_DATABASE = 'postgres';

const Milliseconds = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(86_400_000));
const Port = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535));
const DatabaseName = v.pipe(v.string(), v.minLength(1), v.maxLength(63));

/**
 * §17: PostgreSQL copies a database only while nobody else is connected to it. "disconnect": its other
 * sessions (the app's pool) are ended for the moment of the copy and kept out until it is whole; a pool
 * reconnects. "snapshot": the newest snapshot of it is copied instead, touching no session (its data is
 * as old as that snapshot); with none, its sessions are ended as with "disconnect".
 */
export const WHEN_SOURCE_BUSY = ['disconnect', 'snapshot'] as const;
export type WhenSourceBusy = (typeof WHEN_SOURCE_BUSY)[number];

const ConfigSchema = v.strictObject({
  $schema: v.optional(v.string()),
  migrationsDir: v.optional(v.pipe(v.string(), v.minLength(1))),
  stateDir: v.optional(v.pipe(v.string(), v.minLength(1))),
  database: v.optional(v.union([
    v.strictObject({ url: v.pipe(v.string(), v.minLength(1)) }),
    v.strictObject({ embedded: v.strictObject({ port: v.optional(Port), database: v.optional(DatabaseName) }) }),
  ])),
  format: v.optional(v.pipe(v.string(), v.minLength(1))),
  onConflict: v.optional(v.picklist(['warn', 'rollback'])),
  allowRemote: v.optional(v.boolean()),
  timeouts: v.optional(v.strictObject({ lockMs: v.optional(Milliseconds), statementMs: v.optional(Milliseconds), hookMs: v.optional(Milliseconds) })),
  snapshots: v.optional(v.union([v.boolean(), v.strictObject({ keep: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100))), disconnect: v.optional(v.boolean()) })])),
  stash: v.optional(v.union([v.boolean(), v.strictObject({ maxBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))) })])),
  worktreeDatabases: v.optional(v.union([v.boolean(), v.strictObject({ whenSourceBusy: v.optional(v.picklist(WHEN_SOURCE_BUSY)) })])),
  branchDatabases: v.optional(v.union([v.boolean(), v.strictObject({ keep: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000))) })])),
  run: v.optional(v.strictObject({ urlVariable: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name: letters, digits and _'))) })),
});

export type ConfigFile = v.InferOutput<typeof ConfigSchema>;

export type DatabaseSettings =
  | { readonly kind: 'embedded'; readonly port: number | undefined; readonly database: string }
  | { readonly kind: 'external'; readonly url: string };

export interface Settings {
  /** Repository root (absolute). */
  readonly root: string;
  /** Migrations directory relative to root, with forward slashes (also a git path). */
  readonly migrationsDir: string;
  /** State directory relative to root, or absolute. */
  readonly stateDir: string;
  readonly database: DatabaseSettings;
  /** The migration tool whose files and table the project uses (§15). */
  readonly format: FormatName;
  /** Where the format came from: named in the config or DBGUARD_FORMAT, told from the files, or the default (no files). */
  readonly formatSource: 'named' | 'detected' | 'default';
  /** The versions the format's index file gives (Drizzle's journal: file name → `when`), read with the settings. */
  readonly migrationIndex?: () => ReadonlyMap<string, bigint>;
  readonly onConflict: 'warn' | 'rollback';
  readonly allowRemote: boolean;
  readonly timeouts: Timeouts;
  /** §12: a snapshot before every destructive operation, and how many automatic ones to keep. */
  readonly snapshots: { readonly enabled: boolean; readonly keep: number; readonly disconnect: boolean };
  /** §13: rows a rollback would drop are kept in `_dbguard`, up to this many bytes in all. */
  readonly stash: { readonly enabled: boolean; readonly maxBytes: number };
  /** §14 `dbguard run`: the variable the app reads the embedded database's URL from. */
  readonly run: { readonly urlVariable: string };
  /** §17: a database per linked worktree (on by default for the embedded database, opt-in for an external one). */
  readonly worktreeDatabases: { readonly enabled: boolean; readonly whenSourceBusy: WhenSourceBusy };
  /**
   * §17: this checkout is a linked worktree with a database of its own (`database` already names it):
   * where it is, and the main worktree's database it is copied from. null: the configured database.
   */
  readonly worktree: WorktreeTarget | null;
  /**
   * The state dir (absolute) of the repository's one embedded server — data dir, password, port and the
   * run registry — when it is not this checkout's own: a linked worktree uses the main worktree's (a bare
   * repository's worktrees, a folder in its git dir). null: this checkout's state dir.
   */
  readonly serverStateDir: string | null;
  /** §17: a database per branch, switched on checkout; `keep` bounds the saved ones (null: no bound). */
  readonly branchDatabases: { readonly enabled: boolean; readonly keep: number | null };
}

export interface WorktreeTarget {
  /** The worktree's real path (what its database's comment names). */
  readonly path: string;
  /** Its database, on the same server as the main worktree's. */
  readonly database: string;
  /** The main worktree's database, which it is copied from. */
  readonly source: string;
}

export const DEFAULT_SNAPSHOT_KEEP = 5;
export const DEFAULT_STASH_MAX_BYTES = 1024 ** 3;

/** DESIGN §4: sessions never wait without a bound; a hook's whole database work has a deadline. */
export interface Timeouts {
  /** Postgres lock_timeout: how long one statement waits for a table another session holds. */
  readonly lockMs: number;
  /** Postgres statement_timeout for commands; 0 = none (a long CREATE INDEX is legitimate). */
  readonly statementMs: number;
  /** The hook's overall deadline for its database work (and its statements' bound). */
  readonly hookMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { lockMs: 5_000, statementMs: 0, hookMs: 30_000 };

const UNION_SHAPES: Record<string, string> = {
  database: '{ "url": "postgres://…" } or { "embedded": { "port": 5433, "database": "app" } } (both keys of embedded optional)',
  snapshots: 'true, false or { "keep": 1 to 100, "disconnect": true or false }',
  stash: 'true, false or { "maxBytes": a whole number }',
  worktreeDatabases: 'true, false or { "whenSourceBusy": "disconnect" or "snapshot" }',
  branchDatabases: 'true, false or { "keep": 1 to 1000 }',
};

/** Validates a parsed config document; `source` names the file for the error. */
export function validateConfig(raw: unknown, source: string): ConfigFile {
  const keys = 'keys: migrationsDir, stateDir, database, format, onConflict, allowRemote, timeouts, snapshots, stash, run, worktreeDatabases, branchDatabases';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const found = raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw;
    throw new DbguardError('CONFIG_INVALID', `${source} must hold a JSON object, not ${found}`, { hint: `write {} or an object with the ${keys}`, details: { key: '(root)', source } });
  }
  const database = (raw as { database?: unknown }).database;
  if (typeof database === 'object' && database !== null && 'url' in database && 'embedded' in database) {
    throw new DbguardError('CONFIG_INVALID', `"database" in ${source} names both "url" and "embedded"; it is one or the other`, {
      hint: `keep { "url": "postgres://…" } for your own server, or { "embedded": { … } } for dbguard's`, details: { key: 'database', source },
    });
  }
  const result = v.safeParse(ConfigSchema, raw);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue ? v.getDotPath(issue) : null;
  const unknownKey = issue?.kind === 'schema' && issue.type === 'strict_object' && issue.input !== undefined;
  const key = path ?? '(root)';
  // A union's own message ("Expected Object but received Object") says nothing: say what fits.
  const expected = issue?.type === 'union' ? UNION_SHAPES[key] : undefined;
  const message = unknownKey
    ? `unknown key "${key}" in ${source}`
    : `invalid value for "${key}" in ${source}: ${expected ? `expected ${expected}` : issue?.message ?? 'invalid'}`;
  throw new DbguardError('CONFIG_INVALID', message, {
    hint: `edit ${source} (${keys})`,
    details: { key, source },
  });
}

export interface EnvOverrides {
  readonly DBGUARD_DATABASE_URL?: string | undefined;
  readonly DBGUARD_MIGRATIONS_DIR?: string | undefined;
  readonly DBGUARD_STATE_DIR?: string | undefined;
  readonly DBGUARD_ON_CONFLICT?: string | undefined;
  readonly DBGUARD_FORMAT?: string | undefined;
  readonly DBGUARD_ALLOW_REMOTE?: string | undefined;
  readonly DBGUARD_PG_LOCK_TIMEOUT_MS?: string | undefined;
  readonly DBGUARD_STATEMENT_TIMEOUT_MS?: string | undefined;
  readonly DBGUARD_HOOK_TIMEOUT_MS?: string | undefined;
  readonly DBGUARD_BRANCH_DATABASES?: string | undefined;
}

function envMilliseconds(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (Number.isInteger(parsed) && parsed >= 0 && parsed <= 86_400_000) return parsed;
  throw new DbguardError('CONFIG_INVALID', `invalid value for ${name}: "${value}" (expected milliseconds, 0 to 86400000)`, {
    hint: `unset ${name} or set it to a whole number of milliseconds`, details: { key: name },
  });
}

function envChoice<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === '') return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new DbguardError('CONFIG_INVALID', `invalid value for ${name}: "${value}" (expected ${allowed.join(' or ')})`, {
    hint: `unset ${name} or set it to ${allowed.join(' or ')}`,
    details: { key: name },
  });
}

/** Variables `dbguard run` must not overwrite: the app would not even start (PATH) or not as itself. */
const RESERVED_VARIABLES = new Set(['PATH', 'HOME', 'PWD', 'SHELL', 'USER', 'LOGNAME', 'TMPDIR', 'NODE_OPTIONS', 'IFS']);

function runUrlVariable(name: string | undefined): string {
  if (name === undefined) return 'DATABASE_URL';
  if (RESERVED_VARIABLES.has(name) || name.startsWith('LD_') || name.startsWith('DYLD_')) {
    throw new DbguardError('CONFIG_INVALID', `invalid value for "run.urlVariable": ${name} is a variable the system needs; dbguard run would overwrite it`, {
      hint: 'name the variable your app reads its database URL from (DATABASE_URL by default)', details: { key: 'run.urlVariable' },
    });
  }
  return name;
}

function migrationFormat(source: string, value: string | undefined): FormatName | null {
  if (value === undefined) return null;
  if (isFormatName(value)) return value;
  throw new DbguardError('CONFIG_INVALID', `${source} says "${value}", which is not a migration format dbguard knows (${FORMAT_NAMES.join(', ')})`, {
    hint: `set "format" to one of ${FORMAT_NAMES.join(', ')}, or remove it to have it told from the files`, details: { key: 'format', format: value },
  });
}

/**
 * Merges file config and environment (environment wins). `existingDirs` says which of the default
 * migration directories exist, so the default can be "the first existing one" without I/O here.
 */
export function resolveSettings(root: string, config: ConfigFile, env: EnvOverrides, existingDirs: ReadonlySet<string>, checkout: CheckoutPlace | null = null): Settings {
  const migrationsDir = env.DBGUARD_MIGRATIONS_DIR || config.migrationsDir
    || DEFAULT_MIGRATION_DIRS.find((dir) => existingDirs.has(dir)) || DEFAULT_MIGRATION_DIRS[0];
  const url = env.DBGUARD_DATABASE_URL || (config.database && 'url' in config.database ? config.database.url : undefined);
  const embedded = config.database && 'embedded' in config.database ? config.database.embedded : {};
  const named = migrationFormat(env.DBGUARD_FORMAT ? 'DBGUARD_FORMAT' : '"format" in dbguard.config.json', env.DBGUARD_FORMAT || config.format);
  const allowRemoteEnv = envChoice('DBGUARD_ALLOW_REMOTE', env.DBGUARD_ALLOW_REMOTE, ['true', 'false', '1', '0']);
  const stateDir = env.DBGUARD_STATE_DIR || config.stateDir || DEFAULT_STATE_DIR;
  const worktreeDatabases = {
    // On by default for dbguard's own server; an external one needs CREATEDB, so it is asked for.
    enabled: config.worktreeDatabases === undefined ? !url : config.worktreeDatabases !== false,
    whenSourceBusy: (typeof config.worktreeDatabases === 'object' ? config.worktreeDatabases.whenSourceBusy : undefined) ?? 'disconnect',
  };
  const place = checkoutServer(root, stateDir, checkout, url !== undefined);
  const mainDatabase = url ? null : embedded.database ?? DEFAULT_EMBEDDED_DATABASE;
  const source = mainDatabase ?? (url ? databaseOfUrl(url) : null);
  const worktree: WorktreeTarget | null = checkout?.linked && worktreeDatabases.enabled && source !== null
    ? { path: checkout.worktreeRealPath, database: worktreeDatabaseName(source, checkout.worktreeRealPath), source }
    : null;
  return {
    root,
    migrationsDir: migrationsDir.replace(/\\/g, '/').replace(/\/+$/, ''),
    stateDir: worktree ? place.worktreeStateDir(worktree.database) : stateDir,
    database: url
      ? { kind: 'external', url: worktree ? urlWithDatabase(url, worktree.database) : url }
      : { kind: 'embedded', port: embedded.port, database: worktree?.database ?? mainDatabase ?? DEFAULT_EMBEDDED_DATABASE },
    format: named ?? 'golang-migrate',
    formatSource: named === null ? 'default' : 'named',
    onConflict: envChoice('DBGUARD_ON_CONFLICT', env.DBGUARD_ON_CONFLICT, ['warn', 'rollback']) ?? config.onConflict ?? 'warn',
    allowRemote: allowRemoteEnv === undefined ? config.allowRemote ?? false : allowRemoteEnv === 'true' || allowRemoteEnv === '1',
    timeouts: {
      lockMs: envMilliseconds('DBGUARD_PG_LOCK_TIMEOUT_MS', env.DBGUARD_PG_LOCK_TIMEOUT_MS) ?? config.timeouts?.lockMs ?? DEFAULT_TIMEOUTS.lockMs,
      statementMs: envMilliseconds('DBGUARD_STATEMENT_TIMEOUT_MS', env.DBGUARD_STATEMENT_TIMEOUT_MS) ?? config.timeouts?.statementMs ?? DEFAULT_TIMEOUTS.statementMs,
      hookMs: envMilliseconds('DBGUARD_HOOK_TIMEOUT_MS', env.DBGUARD_HOOK_TIMEOUT_MS) ?? config.timeouts?.hookMs ?? DEFAULT_TIMEOUTS.hookMs,
    },
    snapshots: {
      enabled: config.snapshots !== false,
      keep: (typeof config.snapshots === 'object' ? config.snapshots.keep : undefined) ?? DEFAULT_SNAPSHOT_KEEP,
      disconnect: (typeof config.snapshots === 'object' ? config.snapshots.disconnect : undefined) ?? false,
    },
    stash: {
      enabled: config.stash !== false,
      maxBytes: (typeof config.stash === 'object' ? config.stash.maxBytes : undefined) ?? DEFAULT_STASH_MAX_BYTES,
    },
    run: { urlVariable: runUrlVariable(config.run?.urlVariable) },
    worktreeDatabases,
    worktree,
    serverStateDir: place.serverStateDir,
    branchDatabases: branchDatabases(config.branchDatabases, env.DBGUARD_BRANCH_DATABASES),
  };
}

/** The database a URL names (its path without the "/"), or null when it names none. */
function databaseOfUrl(url: string): string | null {
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
    return name === '' ? null : name;
  } catch {
    return null; // not a URL: the session says so when it parses it
  }
}

/** The same server and role, another database: a linked worktree's own on an external server (§17). */
function urlWithDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** `"branchDatabases": true | { "keep": N }`; DBGUARD_BRANCH_DATABASES (true, false, 1, 0) turns it on or off, keeping the bound. */
function branchDatabases(config: ConfigFile['branchDatabases'], env: string | undefined): Settings['branchDatabases'] {
  const keep = (typeof config === 'object' ? config.keep : undefined) ?? null;
  const fromEnv = envChoice('DBGUARD_BRANCH_DATABASES', env, ['true', 'false', '1', '0']);
  const enabled = fromEnv === undefined ? config !== undefined && config !== false : fromEnv === 'true' || fromEnv === '1';
  return { enabled, keep };
}
