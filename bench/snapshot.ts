/**
 * Issue 12, §12: a snapshot of a ~200 MB embedded database against `cp -a` of its data dir (target
 * ≤ 2×), and the strategies that were candidates, measured on the same data in the same run:
 * CREATE DATABASE … TEMPLATE with each of PostgreSQL's two copy strategies, and stopping the server to
 * copy the data dir. Server running (`dbguard db start`), page cache warm, interleaved, medians.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dbguardIn, median, migrationProject, printTable, runningEmbeddedClient, timed, timedAsync } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const ROWS = Number(process.env.BENCH_SNAPSHOT_ROWS ?? 1_700_000);

const { root } = migrationProject('dbguard-bench-snapshot-', 1);

const dbguard = dbguardIn(root);

dbguard('migrate');
dbguard('db', 'start');
const { server, client: first } = await runningEmbeddedClient(root);
await first.end();
const connectTo = async (database: string) => (await runningEmbeddedClient(root, database)).client;
const copyDir = join(root, 'datadir-copy');

try {
  let client = await connectTo('postgres');
  await client.query(`CREATE TABLE big (id bigint PRIMARY KEY, payload text); INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, ${ROWS}) g; CHECKPOINT;`);
  const size = Number((await client.query<{ b: string }>("SELECT pg_database_size('postgres')::text AS b")).rows[0]?.b);
  const dataDirBytes = Number(spawnSync('du', ['-sb', server.paths.dataDir], { encoding: 'utf8' }).stdout.split('\t')[0]);
  await client.end();

  const samples = { cp: [] as number[], save: [] as number[], restore: [] as number[], walLog: [] as number[], fileCopy: [] as number[], stopCopyStart: [] as number[] };
  for (let trial = 0; trial < TRIALS; trial++) {
    samples.cp.push(timed(() => spawnSync('cp', ['-a', server.paths.dataDir, copyDir])));
    rmSync(copyDir, { recursive: true, force: true });

    samples.save.push(timed(() => dbguard('snapshot', 'save', `bench-${trial}`)));
    samples.restore.push(timed(() => dbguard('snapshot', 'restore', `bench-${trial}`)));
    // Not timed: the snapshots this made (the saved one, and the state the restore replaced).
    const made = JSON.parse(dbguard('snapshot', 'list', '--json')) as { snapshots: Array<{ name: string }> };
    for (const s of made.snapshots) dbguard('snapshot', 'drop', s.name);

    const maintenance = await connectTo('template1'); // anew each trial: the stop below ends it
    for (const [strategy, key] of [['WAL_LOG', 'walLog'], ['FILE_COPY', 'fileCopy']] as const) {
      samples[key].push(await timedAsync(() => maintenance.query(`CREATE DATABASE bench_copy TEMPLATE postgres STRATEGY ${strategy}`)));
      await maintenance.query('DROP DATABASE bench_copy');
    }
    await maintenance.end();

    samples.stopCopyStart.push(await timedAsync(async () => {
      dbguard('db', 'stop');
      spawnSync('cp', ['-a', server.paths.dataDir, copyDir]);
      dbguard('db', 'start');
    }));
    rmSync(copyDir, { recursive: true, force: true });
  }
  client = await connectTo('postgres');
  const strategy = await client.query<{ s: string }>("SELECT current_setting('server_version') AS s");
  await client.end();

  const [cp, save, restore, walLog, fileCopy, stopCopyStart] = [samples.cp, samples.save, samples.restore, samples.walLog, samples.fileCopy, samples.stopCopyStart].map(median) as number[] as [number, number, number, number, number, number];
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  printTable(`snapshot of a ${mb(size)} embedded database (data dir ${mb(dataDirBytes)}), PostgreSQL ${strategy.rows[0]?.s}, median of ${TRIALS}`, [
    ['cp -a of the data dir (the baseline)', `${cp.toFixed(0)} ms`],
    ['dbguard snapshot save (process, connect, CREATE DATABASE … TEMPLATE, comment)', `${save.toFixed(0)} ms = ${(save / cp).toFixed(2)}x cp -a (target ≤ 2.00)`],
    ['dbguard snapshot restore (copy under a temporary name, swap in one transaction)', `${restore.toFixed(0)} ms = ${(restore / cp).toFixed(2)}x cp -a (target ≤ 2.00)`],
    ['strategy CREATE DATABASE … STRATEGY WAL_LOG (the server default)', `${walLog.toFixed(0)} ms = ${(walLog / cp).toFixed(2)}x`],
    ['strategy CREATE DATABASE … STRATEGY FILE_COPY (two checkpoints; what save uses)', `${fileCopy.toFixed(0)} ms = ${(fileCopy / cp).toFixed(2)}x`],
    ['strategy stop the server, cp -a the data dir, start it', `${stopCopyStart.toFixed(0)} ms = ${(stopCopyStart / cp).toFixed(2)}x`],
  ]);
} finally {
  spawnSync(process.execPath, [BIN, 'db', 'stop'], { cwd: root });
  rmSync(root, { recursive: true, force: true });
}
