/**
 * Issue 18.12: a restore must cost about what the rollback that stashed it cost, however wide the
 * table. A down drops a table of 1,500 int columns × 20,000 rows: the rollback keeps it in the stash,
 * the migrate that applies it again puts it back. Target: restore ≤ 3× the rollback. Interleaved.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dbguardIn, median, migrationProject, printTable, runningEmbeddedClient, setAside, timed } from './util.js';

const TRIALS = Number(process.env.BENCH_TRIALS_WIDE ?? 3);
const COLUMNS = Number(process.env.BENCH_WIDE_COLUMNS ?? 1500);
const ROWS = Number(process.env.BENCH_WIDE_ROWS ?? 20_000);

const { root } = migrationProject('dbguard-bench-stash-wide-', 1);
writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ migrationsDir: 'migrations', snapshots: false, stash: { maxBytes: 8 * 1024 ** 3 } }));
const dir = join(root, 'migrations');
const columns = Array.from({ length: COLUMNS }, (_, i) => `c${i + 1}`);
writeFileSync(join(dir, '2_wide.up.sql'), `CREATE TABLE wide (id serial PRIMARY KEY, ${columns.map((c) => `${c} int`).join(', ')});`);
writeFileSync(join(dir, '2_wide.down.sql'), 'DROP TABLE wide;');
const dbguard = dbguardIn(root);
const { hide, show } = setAside(dir, '2_');

dbguard('db', 'start');
const { client } = await runningEmbeddedClient(root);
try {
  dbguard('migrate');
  await client.query(`INSERT INTO wide (${columns.join(', ')}) SELECT ${columns.map((_, i) => `(g + ${i}) % 10`).join(', ')} FROM generate_series(1, ${ROWS}) g`);
  const expected = (await client.query<{ s: string }>('SELECT sum(c1 + c750 + c1500)::text AS s FROM wide')).rows[0]?.s;
  const rollbacks: number[] = [];
  const restores: number[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    hide();
    rollbacks.push(timed(() => dbguard('rollback', '--yes', '--no-snapshot')));
    show();
    restores.push(timed(() => dbguard('migrate')));
    const got = (await client.query<{ n: string; s: string }>('SELECT count(*)::text AS n, sum(c1 + c750 + c1500)::text AS s FROM wide')).rows[0];
    if (Number(got?.n) !== ROWS || got?.s !== expected) throw new Error(`the restore put back ${got?.n} rows (sum ${got?.s}), expected ${ROWS} (sum ${expected})`);
  }
  const [rb, rs] = [median(rollbacks), median(restores)];
  printTable(`a table of ${COLUMNS.toLocaleString('en')} columns × ${ROWS.toLocaleString('en')} rows dropped and put back (median of ${TRIALS})`, [
    ['dbguard rollback --yes --no-snapshot (rows kept)', `${rb.toFixed(0)} ms`],
    ['dbguard migrate (rows put back)', `${rs.toFixed(0)} ms`],
    ['restore / rollback (target ≤ 3x)', `${(rs / rb).toFixed(2)}x`],
  ]);
} finally {
  await client.end();
  dbguard('db', 'stop');
  rmSync(root, { recursive: true, force: true });
}
