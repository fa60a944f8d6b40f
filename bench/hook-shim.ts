/**
 * The installed shim on a checkout that does not touch the migrations folder (issue 10, DESIGN §7):
 * a real repository with 2,000 applied migrations, the hooks installed by `dbguard hooks install`, and
 * the shim run as git runs it after a clean check was recorded. Target: ≤ 0.25× `node -e 0`. The node
 * hook on the same checkout (what every checkout cost before the shim's fast path) is shown beside it.
 */
import { golangMigrate } from '../src/formats/golang-migrate.js';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serializeCache } from '../src/core/cache.js';
import { median, printTable } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const COUNT = 2_000;

function sh(cwd: string, command: string, args: string[]): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

const root = mkdtempSync(join(tmpdir(), 'dbguard-bench-shim-'));
chmodSync(root, 0o755);
try {
  sh(root, 'git', ['init', '-q', '-b', 'main']);
  sh(root, 'git', ['config', 'user.email', 'bench@example.com']);
  sh(root, 'git', ['config', 'user.name', 'Bench']);
  mkdirSync(join(root, 'migrations'));
  const migrations = new Map<bigint, { filename: string; downCaptured: boolean }>();
  for (let i = 1; i <= COUNT; i++) {
    const version = 20200101000000n + BigInt(i);
    const up = `${version}_migration_number_${i}.up.sql`;
    writeFileSync(join(root, 'migrations', up), `CREATE TABLE t${i} (id int);\n`);
    writeFileSync(join(root, 'migrations', up.replace('.up.', '.down.')), `DROP TABLE t${i};\n`);
    migrations.set(version, { filename: up, downCaptured: true });
  }
  writeFileSync(join(root, '.gitignore'), 'node_modules/\n.dbguard/\n');
  sh(root, 'git', ['add', '-A']);
  sh(root, 'git', ['commit', '-q', '-m', 'migrations']);
  const main = sh(root, 'git', ['rev-parse', 'HEAD']);
  writeFileSync(join(root, 'NOTES.md'), 'docs only\n');
  sh(root, 'git', ['add', '-A']);
  sh(root, 'git', ['commit', '-q', '-m', 'docs']);
  const docs = sh(root, 'git', ['rev-parse', 'HEAD']);

  mkdirSync(join(root, '.dbguard'));
  writeFileSync(join(root, '.dbguard', 'migration_cache.json'), serializeCache({ database: 'embedded:postgres', migrations }, golangMigrate));
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(join(root, '.dbguard', 'migration_cache.json'), hourAgo, hourAgo);
  mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(BIN, join(root, 'node_modules', '.bin', 'dbguard'));
  sh(root, process.execPath, [BIN, 'hooks', 'install']);
  // One real checkout with the node hook records the clean check the shim relies on.
  sh(root, 'git', ['checkout', '-q', main]);
  sh(root, 'git', ['checkout', '-q', docs]);
  // From here on, reaching node through the shim is a failure (it would print), not a slow sample.
  unlinkSync(join(root, 'node_modules', '.bin', 'dbguard'));
  writeFileSync(join(root, 'node_modules', '.bin', 'dbguard'), '#!/bin/sh\necho "node path taken" >&2\n', { mode: 0o755 });

  const hook = join(root, '.git', 'hooks', 'post-checkout');
  const time = (command: string, args: string[]): number => {
    const started = process.hrtime.bigint();
    const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (result.status !== 0 || result.stderr.length > 0) throw new Error(`not a clean run: ${result.stderr.toString()}`);
    return ms;
  };
  const samples = { node: [] as number[], shim: [] as number[], nodeHook: [] as number[] };
  for (let i = 0; i < 3; i++) time('sh', [hook, docs, main, '1']);
  for (let i = 0; i < RUNS; i++) {
    samples.node.push(time(process.execPath, ['-e', '0']));
    samples.shim.push(time('sh', [hook, docs, main, '1']));
    samples.nodeHook.push(time(process.execPath, [BIN, 'hook', 'post-checkout', docs, main, '1']));
  }
  const [node, shim, nodeHook] = [samples.node, samples.shim, samples.nodeHook].map(median) as [number, number, number];
  printTable(`installed shim, checkout that keeps the migrations, ${COUNT.toLocaleString('en')} applied (median of ${RUNS} interleaved runs)`, [
    ['node -e 0', `${node.toFixed(1)} ms`],
    ['shim (sh + git rev-parse + find -newer + git diff)', `${shim.toFixed(1)} ms`],
    ['node hook on the same checkout', `${nodeHook.toFixed(1)} ms`],
    ['shim / node -e 0 (target ≤ 0.25)', `${(shim / node).toFixed(2)}x`],
    ['node hook / node -e 0', `${(nodeHook / node).toFixed(2)}x`],
  ]);
} finally {
  rmSync(root, { recursive: true, force: true });
}
