/**
 * Every failure a user can meet is a DbguardError: a stable code, one line of cause, and the next
 * command to run. Adapters throw them; the CLI edge renders them once and maps them to exit codes.
 */

/** Exit codes of DESIGN §9. */
export const ExitCode = {
  ok: 0,
  actionNeeded: 1,
  usage: 2,
  unsafe: 3,
  failure: 4,
  /** `dbguard run`: the command could not be started (the shell's "command not found"). */
  notStarted: 127,
  /** `dbguard run`: the command is not an executable program. */
  notExecutable: 126,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Which §9 class each code belongs to; the code itself is the stable identifier. */
const CODE_CLASS = {
  // usage / configuration (2)
  USAGE: ExitCode.usage,
  CONFIG_INVALID: ExitCode.usage,
  CONFIG_NOT_JSON: ExitCode.usage,
  MIGRATIONS_DIR_NOT_FOUND: ExitCode.usage,
  MIGRATIONS_DIR_UNREADABLE: ExitCode.usage,
  MIGRATION_NAME_INVALID: ExitCode.usage,
  FORMAT_NOT_SUPPORTED: ExitCode.usage,
  FORCE_NOT_APPLICABLE: ExitCode.usage,
  FORCE_UNKNOWN_VERSION: ExitCode.usage,
  TRACKING_ROW_INVALID: ExitCode.usage,
  MIGRATION_VERSION_REUSED: ExitCode.usage,
  MIGRATION_FILE_INVALID: ExitCode.usage,
  CACHE_CORRUPT: ExitCode.usage,
  CACHE_VERSION_UNSUPPORTED: ExitCode.usage,
  CACHE_OTHER_DATABASE: ExitCode.usage,
  CACHE_OTHER_FORMAT: ExitCode.usage,
  NOT_A_TTY: ExitCode.usage,
  CONFIRMATION_MISMATCH: ExitCode.usage,
  NOT_A_GIT_REPO: ExitCode.usage,
  COMMAND_NOT_STARTED: ExitCode.notStarted,
  COMMAND_NOT_EXECUTABLE: ExitCode.notExecutable,
  HOOKS_DISABLED: ExitCode.usage,
  HOOK_DAMAGED: ExitCode.usage,
  HOOKS_UNWRITABLE: ExitCode.failure,
  SNAPSHOT_NOT_FOUND: ExitCode.usage,
  SNAPSHOT_OTHER_DATABASE: ExitCode.usage,
  SNAPSHOT_EXISTS: ExitCode.usage,
  STASH_NOT_FOUND: ExitCode.usage,
  STASH_EXPORT_TARGET: ExitCode.usage,
  // action needed (1)
  CONFLICT: ExitCode.actionNeeded,
  DATABASE_AHEAD: ExitCode.actionNeeded,
  // refused as unsafe (3)
  DIRTY: ExitCode.unsafe,
  TOOL_MIGRATION_FAILED: ExitCode.unsafe,
  UNTRACKED: ExitCode.unsafe,
  IRREVERSIBLE: ExitCode.unsafe,
  OUT_OF_ORDER: ExitCode.unsafe,
  NO_DOWN_SQL: ExitCode.unsafe,
  NOT_RUNNABLE: ExitCode.unsafe,
  UNSAFE_DOWN_SQL: ExitCode.unsafe,
  REMOTE_REFUSED: ExitCode.unsafe,
  ABORTED: ExitCode.unsafe,
  SNAPSHOT_UNAVAILABLE: ExitCode.unsafe,
  UNDO_STALE: ExitCode.unsafe,
  UNDO_NOT_NEEDED: ExitCode.unsafe,
  BRANCH_DATABASE_BUSY: ExitCode.unsafe,
  STASH_FULL: ExitCode.unsafe,
  // database or git failure (4)
  DB_CONNECT_FAILED: ExitCode.failure,
  DB_AUTH_FAILED: ExitCode.failure,
  DB_QUERY_FAILED: ExitCode.failure,
  DB_BUSY: ExitCode.failure,
  DB_OUT_OF_RESOURCES: ExitCode.failure,
  DB_CONNECTION_LOST: ExitCode.failure,
  STEP_FAILED: ExitCode.failure,
  DEADLINE: ExitCode.failure,
  MIGRATION_FAILED: ExitCode.failure,
  EMBEDDED_START_FAILED: ExitCode.failure,
  EMBEDDED_INIT_FAILED: ExitCode.failure,
  EMBEDDED_DIR_NOT_ACCESSIBLE: ExitCode.failure,
  EMBEDDED_DIR_NOT_OURS: ExitCode.unsafe,
  EMBEDDED_NOT_CREATED: ExitCode.usage,
  WORKTREE_DATABASE_NOT_MADE: ExitCode.usage,
  WORKTREE_DATABASE_NOT_ALLOWED: ExitCode.usage,
  WORKTREE_DATABASE_FAILED: ExitCode.failure,
  SERVER_IN_USE: ExitCode.unsafe,
  WORKTREE_GONE: ExitCode.failure,
  EMBEDDED_UNSAFE_PATH: ExitCode.unsafe,
  STATE_DIR_UNSAFE: ExitCode.unsafe,
  EMBEDDED_NOT_RUNNING: ExitCode.failure,
  STATE_WRITE_FAILED: ExitCode.failure,
  SNAPSHOT_FAILED: ExitCode.failure,
  STATE_DIR_UNWRITABLE: ExitCode.failure,
  GIT_FAILED: ExitCode.failure,
  WORKTREES_UNKNOWN: ExitCode.failure,
  HOOK_INSTALL_FAILED: ExitCode.failure,
  DEMO_FAILED: ExitCode.failure,
  INTERNAL: ExitCode.failure,
} as const satisfies Record<string, ExitCode>;

export type ErrorCode = keyof typeof CODE_CLASS;

export interface DbguardErrorOptions {
  /** The command the user should run next (one line). */
  readonly hint?: string;
  /** Structured facts for --json output (versions, paths). Never passwords. */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/**
 * The hook's bundle and the CLI's bundle each carry this class, so `instanceof` fails for an error made
 * by the other one; a registered symbol is the same in both.
 */
const BRAND = Symbol.for('dbguard.error');

export class DbguardError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: DbguardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DbguardError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  get exitCode(): ExitCode {
    return CODE_CLASS[this.code];
  }
}

export function isDbguardError(value: unknown): value is DbguardError {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

export function exitCodeFor(code: ErrorCode): ExitCode {
  return CODE_CLASS[code];
}

/** Another run holds the lock (a dbguard run, or the project's migrator): wait, then try again. */
export function busyError(what: string, holder: string): DbguardError {
  return new DbguardError('DB_BUSY', `${what} is busy: ${holder.startsWith('the project') ? holder : `another dbguard run (${holder})`} holds the lock`, {
    hint: 'wait for the other run to finish, then run the command again',
    details: { holder },
  });
}
