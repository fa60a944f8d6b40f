/**
 * Starts one real PostgreSQL (through dbguard's own EmbeddedServer) for the integration test files; each
 * test makes its own database on it. Data lives under /tmp so the "postgres" user can reach it when the
 * suite runs as root.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { EmbeddedServer } from '../../src/embedded/server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pg: { host: string; port: number; user: string; password: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Hook and CLI tests run the built binary, as git and users do: build it from the current source.
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: join(import.meta.dirname, '../..'), stdio: 'inherit' });
  const stateDir = mkdtempSync(join(tmpdir(), 'dbguard-suite-'));
  chmodSync(stateDir, 0o755);
  const server = new EmbeddedServer({ stateDir, port: undefined, database: 'postgres' });
  await server.initialise();
  const { port } = await server.start(false);
  const target = server.target(port);
  project.provide('pg', { host: target.host, port: target.port, user: target.user, password: target.password ?? '' });
  return async () => {
    await server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  };
}
