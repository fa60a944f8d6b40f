/** A working connection to the project's database, as the flows use it (opened by ./session.ts). */
import type { ConnectionTarget } from '../core/connection.js';
import type { MigrationFormat } from '../core/format.js';
import type { PgClient } from '../db/client.js';
import type { DatabaseRef } from './identity.js';

export interface DbSession {
  readonly ref: DatabaseRef;
  readonly client: PgClient;
  readonly target: ConnectionTarget;
  /** True when this session started the embedded server (and will stop it). */
  readonly startedServer: boolean;
  /**
   * The project's format, as its settings name it, or — when nothing named it and no file told it —
   * as the database's tracking table tells it (DESIGN §15), once, when the session opens.
   */
  readonly format: MigrationFormat;
  /**
   * Runs `work` with this session's connection closed and its locks released, on a maintenance
   * connection to the same server, then connects and locks again (`client` is then a new connection).
   * CREATE DATABASE … TEMPLATE and a database swap need the database free of every session (§12).
   */
  detached<T>(work: (maintenance: PgClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
