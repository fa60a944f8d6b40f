/**
 * Failures that are not the migration's fault (issue 25.9): the server ran out of something (SQLSTATE
 * class 53: disk full, memory, connections), or the connection went away (class 08, an operator's or a
 * shutdown's 57P01–57P05, a socket closed under the driver, Ctrl-C). "Fix the down SQL" would lead
 * nowhere; these name what happened and what to do before the same command continues. Pure.
 */
export interface OutsideCause {
  readonly code: 'DB_OUT_OF_RESOURCES' | 'DB_CONNECTION_LOST';
  /** What happened, one clause: "the database server ran out of disk space (could not extend file …)". */
  readonly what: string;
  /** What to do before running the command again. */
  readonly first: string;
}

const RESOURCES: Readonly<Record<string, { readonly what: string; readonly first: string }>> = {
  '53100': { what: 'disk space', first: 'free disk space where the database keeps its data' },
  '53200': { what: 'memory', first: 'free memory on the database server (or lower what the step needs at once)' },
  '53300': { what: 'connections', first: 'close some of the other connections to the database server' },
};

/** How the driver reports a connection that went away without a server message (no SQLSTATE). */
const LOST = /Connection terminated|connection (?:is )?closed|server closed the connection|Client has encountered a connection error|write after end|ECONNRESET|EPIPE/i;

export function outsideCause(error: unknown): OutsideCause | null {
  const state = (error as { code?: unknown } | null)?.code;
  const code = typeof state === 'string' ? state : '';
  const message = error instanceof Error ? error.message : String(error);
  if (code.startsWith('53')) {
    const known = RESOURCES[code] ?? { what: `a resource (SQLSTATE ${code})`, first: 'raise the server limit or free what its message names' };
    return { code: 'DB_OUT_OF_RESOURCES', what: `the database server ran out of ${known.what} (${message})`, first: known.first };
  }
  const serverGone = code.startsWith('08') || /^57P0[1-5]$/.test(code);
  const socketGone = !/^[0-9A-Z]{5}$/.test(code) && LOST.test(`${code} ${message}`);
  if (serverGone || socketGone) {
    return { code: 'DB_CONNECTION_LOST', what: `the connection to the database was lost (${message})`, first: 'dbguard status   (shows where the database is)' };
  }
  return null;
}
