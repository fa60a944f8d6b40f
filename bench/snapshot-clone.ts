/**
 * Issue 20.1, §16: on a copy-on-write disk a snapshot must not grow with the database. `dbguard
 * snapshot save` of a ~250 MB database against the save of a small one (target ≤ 1.3×), on an XFS image
 * with reflink (loop-mounted; needs root and mkfs.xfs, else skipped) and on the machine's own disk,
 * next to PostgreSQL's two file copy methods on the same data (what dbguard used before: copy).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dbguardIn, median, migrationProject, printTable, runningEmbeddedClient, timed, timedAsync } from './util.js';

const BIN = resolve(import.meta.dirname, '..', 'dist', 'bin.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const ROWS = Number(process.env.BENCH_CLONE_ROWS ?? 2_300_000);

const sh = (command: string, args: string[]) => {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
};

/** The save figures of one disk: a small database, the same grown to ~250 MB, and the raw copy methods on it. */
async function measure(base: string) {
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = base;
  const { root } = migrationProject('dbguard-bench-clone-', 1);
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  const dbguard = dbguardIn(root);
  const saves = (label: string) => {
    const samples: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      samples.push(timed(() => dbguard('snapshot', 'save', `${label}-${trial}`)));
      dbguard('snapshot', 'drop', `${label}-${trial}`);
    }
    return median(samples);
  };
  dbguard('migrate');
  dbguard('db', 'start');
  try {
    const { client } = await runningEmbeddedClient(root);
    await client.query("CREATE TABLE small AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g; CHECKPOINT");
    const sizeOf = async () => Number((await client.query<{ b: string }>("SELECT pg_database_size('postgres')::text AS b")).rows[0]?.b);
    const smallBytes = await sizeOf();
    await client.end();
    const small = saves('small');
    const grow = (await runningEmbeddedClient(root)).client;
    await grow.query(`CREATE TABLE big (id bigint PRIMARY KEY, payload text); INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, ${ROWS}) g; CHECKPOINT`);
    const bigBytes = Number((await grow.query<{ b: string }>("SELECT pg_database_size('postgres')::text AS b")).rows[0]?.b);
    await grow.end();
    const big = saves('big');
    const maintenance = (await runningEmbeddedClient(root, 'template1')).client;
    const methods = { copy: [] as number[], clone: [] as number[] };
    for (let trial = 0; trial < TRIALS; trial++) {
      for (const method of ['copy', 'clone'] as const) {
        await maintenance.query(`SET file_copy_method = ${method}`);
        methods[method].push(await timedAsync(() => maintenance.query('CREATE DATABASE bench_copy TEMPLATE postgres STRATEGY FILE_COPY')));
        await maintenance.query('DROP DATABASE bench_copy');
      }
    }
    await maintenance.end();
    return { smallBytes, bigBytes, small, big, copy: median(methods.copy), clone: median(methods.clone) };
  } finally {
    spawnSync(process.execPath, [BIN, 'db', 'stop'], { cwd: root });
    rmSync(root, { recursive: true, force: true });
  }
}

/** An XFS image with reflink, loop-mounted under a temp dir; null when this machine cannot. */
function mountXfs(): { dir: string; unmount: () => void } | null {
  if (process.getuid?.() !== 0 || spawnSync('mkfs.xfs', ['-V']).status !== 0) return null;
  const work = mkdtempSync(join(tmpdir(), 'dbguard-bench-xfs-'));
  const image = join(work, 'disk.img');
  const dir = join(work, 'mnt');
  mkdirSync(dir);
  sh('truncate', ['-s', '4G', image]);
  sh('mkfs.xfs', ['-q', '-m', 'reflink=1', image]);
  sh('mount', ['-o', 'loop', image, dir]);
  chmodSync(dir, 0o755);
  chmodSync(work, 0o755);
  return { dir, unmount: () => { spawnSync('umount', [dir]); rmSync(work, { recursive: true, force: true }); } };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const report = (disk: string, r: Awaited<ReturnType<typeof measure>>) => printTable(`dbguard snapshot save on ${disk} (median of ${TRIALS})`, [
  [`save of a ${mb(r.smallBytes)} database`, `${r.small.toFixed(0)} ms`],
  [`save of a ${mb(r.bigBytes)} database`, `${r.big.toFixed(0)} ms`],
  ['big / small (target on XFS with reflink ≤ 1.3x)', `${(r.big / r.small).toFixed(2)}x`],
  [`CREATE DATABASE … FILE_COPY of ${mb(r.bigBytes)}, file_copy_method = copy (dbguard where the disk cannot clone; before, everywhere)`, `${r.copy.toFixed(0)} ms`],
  [`CREATE DATABASE … FILE_COPY of ${mb(r.bigBytes)}, file_copy_method = clone (dbguard where the disk can)`, `${r.clone.toFixed(0)} ms = ${(r.clone / r.copy).toFixed(2)}x copy`],
]);

const xfs = mountXfs();
if (xfs === null) console.log('\nsnapshot on XFS with reflink: skipped (needs root and mkfs.xfs: apt-get install -y xfsprogs)');
else {
  try {
    report('XFS with reflink (loop-mounted image)', await measure(xfs.dir));
  } finally {
    xfs.unmount();
  }
}
const fsType = sh('df', ['-T', tmpdir()]).split('\n')[1]?.split(/\s+/)[1] ?? 'unknown';
report(`the machine's own disk (${fsType}, ${tmpdir()})`, await measure(tmpdir()));
