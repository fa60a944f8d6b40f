/**
 * Connection targets built from parts, never by string concatenation, so passwords with `@:/?#%` work
 * and never leak: every printable form of a target is redacted unless the caller asks otherwise.
 */
import { DbguardError } from './errors.js';

export interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  /** From `sslmode`; undefined leaves pg's default. */
  readonly ssl: boolean | undefined;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '']);

function invalidUrl(reason: string): DbguardError {
  // The URL itself is never echoed: it may hold a password.
  return new DbguardError('CONFIG_INVALID', `database URL is invalid: ${reason}`, {
    hint: 'set DBGUARD_DATABASE_URL (or database.url) to postgres://user:password@host:port/dbname, percent-encoding special characters',
    details: { key: 'database.url' },
  });
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalidUrl(`the ${what} is not valid percent-encoding`);
  }
}

export function parseDatabaseUrl(url: string): ConnectionTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidUrl('not a URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw invalidUrl(`scheme must be postgres:// or postgresql://, not ${parsed.protocol}//`);
  }
  const socketHost = parsed.searchParams.get('host');
  const host = socketHost ?? parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw invalidUrl('no host');
  const port = parsed.port ? Number(parsed.port) : 5432;
  const database = decode(parsed.pathname.replace(/^\//, ''), 'database name') || decode(parsed.username, 'user name') || 'postgres';
  const sslmode = parsed.searchParams.get('sslmode');
  return {
    host,
    port,
    user: decode(parsed.username, 'user name') || 'postgres',
    password: parsed.password === '' ? undefined : decode(parsed.password, 'password'),
    database,
    ssl: sslmode === null ? undefined : sslmode !== 'disable',
  };
}

export function isLocalHost(host: string): boolean {
  return LOCAL_HOSTS.has(host) || host.startsWith('/') || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** A stable name for the database a cache describes: no user, no password. */
export function databaseIdentity(target: ConnectionTarget): string {
  return `postgres://${formatHost(target.host)}:${target.port}/${encodeURIComponent(target.database)}`;
}

function formatHost(host: string): string {
  if (host.startsWith('/')) return encodeURIComponent(host);
  return host.includes(':') ? `[${host}]` : host;
}

/** A connection string for people and apps; the password is redacted unless `showPassword`. */
export function formatConnectionUrl(target: ConnectionTarget, showPassword = false): string {
  const password = target.password === undefined ? '' : `:${showPassword ? encodeURIComponent(target.password) : '***'}`;
  // Spelt out when SSL is off (the embedded server): lib/pq, which Go apps, dbmate and sql-migrate use,
  // otherwise asks for SSL and the server refuses ("SSL is not enabled on the server").
  const query = target.ssl === false ? '?sslmode=disable' : '';
  return `postgresql://${encodeURIComponent(target.user)}${password}@${formatHost(target.host)}:${target.port}/${encodeURIComponent(target.database)}${query}`;
}

/** Removes a password from any text (error messages from drivers included) before it is shown. */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  let out = text;
  for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  return out;
}
