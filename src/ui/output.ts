/**
 * Everything a person sees is decided here, once: colors and spinners only on a TTY and never with
 * NO_COLOR; with --json nothing but one JSON document on stdout (progress goes nowhere).
 */
import { createSpinner, type Spinner } from 'nanospinner';
import { createColors } from 'picocolors';
import { ExitCode, isDbguardError, type DbguardError } from '../core/errors.js';
import type { ProgressEvent, Reporter } from '../core/events.js';
import { escapeControls } from '../core/text.js';

export type Colors = ReturnType<typeof createColors>;

const listOf = (versions: readonly bigint[]) => versions.map(String).join(', ');

export interface Output {
  readonly json: boolean;
  readonly interactive: boolean;
  readonly c: Colors;
  /** A line of the command's report (stdout; suppressed with --json). */
  line(text?: string): void;
  /** A note or warning (stderr; suppressed with --json). */
  note(text: string): void;
  /** The one JSON document of a --json run. */
  document(value: unknown): void;
  progress(): Reporter;
  /** A spinner on a terminal, a plain line elsewhere; `done` ends it. */
  activity(text: string): { done(result: string, ok?: boolean): void };
  /** Ends a spinner left running by an error, so the process can exit and the terminal is tidy. */
  settle(): void;
  /** Raw text on stderr (the error renderer's). */
  error(text: string): void;
}

/** JSON with bigint versions as strings (they exceed 2^53 for timestamp versions). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

export interface OutputOptions {
  readonly json: boolean;
  readonly stdout?: NodeJS.WriteStream;
  readonly stderr?: NodeJS.WriteStream;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Output into a closed pipe (`dbguard status | head -1`) is dropped quietly (§9): the command still
 * finishes and releases its locks, instead of dying on EPIPE with the lock file left behind. Any other
 * write error (`> /dev/full`: ENOSPC) does the same, and says so once on stderr with exit code 4.
 */
function quietWhenClosed(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  if (stream.listenerCount('error') === 0) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (closed) return;
      closed = true;
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
      process.exitCode = ExitCode.failure;
      if (stream !== process.stderr) {
        try {
          process.stderr.write(`dbguard: could not write the output (${error.code ?? error.message}); the command itself ran to its end\n`);
        } catch {
          // stderr is gone too: the exit code says it.
        }
      }
    });
  }
  return (text) => {
    if (!closed && !stream.destroyed) stream.write(text);
  };
}

export function createOutput(options: OutputOptions): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const writeOut = quietWhenClosed(stdout);
  const writeErr = quietWhenClosed(stderr);
  const env = options.env ?? process.env;
  const interactive = Boolean(stdout.isTTY) && !options.json;
  const color = interactive && !('NO_COLOR' in env && env.NO_COLOR !== '') && env.TERM !== 'dumb';
  const c = createColors(color);
  // Names in our text come from the repository: no control character of theirs reaches the terminal.
  const safe = (text: string) => escapeControls(text, color);
  const line = (text = '') => {
    if (!options.json) writeOut(`${safe(text)}\n`);
  };
  // Spinners follow colors (a terminal, no NO_COLOR, not TERM=dumb). nanospinner measures wrapped lines
  // by the terminal's width, so a pty that reports none gets plain lines.
  const spins = () => color && stdout.columns > 0;
  let spinner: Spinner | null = null;
  const finishSpinner = (text: string, ok: boolean) => {
    if (ok) spinner?.success({ text });
    else spinner?.error({ text });
    spinner = null;
  };
  const activity = (text: string) => {
    if (options.json) return { done: () => undefined };
    if (!spins()) {
      line(c.dim(`  … ${text}`));
      return { done: () => undefined };
    }
    finishSpinner(text, true);
    spinner = createSpinner(safe(text), { stream: stdout }).start();
    return { done: (result: string, ok = true) => finishSpinner(safe(result), ok) };
  };
  const serverText: Record<string, string> = {
    initialising: 'creating the embedded database', starting: 'starting the embedded database', stopping: 'stopping the embedded database',
  };
  let pending: ReturnType<typeof activity> | null = null;
  const report = (event: ProgressEvent) => {
    if (options.json) return;
    if (event.type === 'server') {
      const text = serverText[event.action];
      if (text) pending = activity(text);
      else pending?.done(event.action === 'ready' ? 'embedded database running' : 'embedded database stopped');
    } else if (event.type === 'step-start') {
      pending = spins() ? activity(`${event.version}  ${event.filename}  (${event.index + 1}/${event.total})`) : null;
    } else if (event.type === 'step-done') {
      const text = `${event.version}  ${event.filename}  ${c.dim(`${event.ms.toFixed(0)} ms`)}${event.note ? `  ${c.yellow(`(${event.note})`)}` : ''}`;
      if (spins() && pending) pending.done(text);
      else line(`  ${c.green('✓')} ${text}`);
    } else if (event.type === 'step-replayed') {
      const text = `${event.version}  ${event.filename}  ${c.yellow(`its down failed (${event.message}); rolled back ${listOf(event.replayed)} above it first, then re-applied ${event.replayed.length === 1 ? 'it' : 'them'}`)}`;
      if (spins() && pending) pending.done(text);
      else line(`  ${c.yellow('↺')} ${text}`);
    } else if (spins() && pending) {
      pending.done(`${event.version}  ${event.filename}`, false);
    } else {
      line(`  ${c.red('✗')} ${event.version}  ${event.filename}`);
    }
  };
  return {
    json: options.json,
    interactive,
    c,
    line,
    note(text) {
      if (!options.json) writeErr(`${safe(text)}\n`);
    },
    document(value) {
      // Every document says which shape it has (§9), so scripts can rely on it.
      writeOut(`${toJson({ format: 1, ...(value as Record<string, unknown>) })}\n`);
    },
    error(text) {
      writeErr(safe(text));
    },
    progress: () => report,
    activity,
    settle() {
      if (spinner) finishSpinner('interrupted', false);
    },
  };
}

/** The one place errors become text: code, one line of cause, one line of what to run next. */
export function renderError(error: unknown, out: Output, env: NodeJS.ProcessEnv = process.env): void {
  const debug = (env.DEBUG ?? '').split(',').includes('dbguard');
  if (isDbguardError(error)) {
    if (out.json) {
      out.document({ ok: false, error: errorJson(error) });
    } else {
      out.error(`${out.c.red(`error[${error.code}]`)} ${error.message}\n`);
      if (error.hint) out.error(`  ${out.c.dim('next:')} ${error.hint}\n`);
      if (debug && error.stack) out.error(`${error.stack}\n`);
    }
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (out.json) out.document({ ok: false, error: { code: 'INTERNAL', message } });
  else {
    out.error(`${out.c.red('error[INTERNAL]')} ${message}\n  ${out.c.dim('next:')} run again with DEBUG=dbguard and report the output\n`);
    if (debug && error instanceof Error && error.stack) out.error(`${error.stack}\n`);
  }
}

export function errorJson(error: DbguardError): Record<string, unknown> {
  return { code: error.code, message: error.message, hint: error.hint ?? null, details: error.details };
}
