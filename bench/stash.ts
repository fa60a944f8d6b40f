/**
 * Issue 12, §13: what keeping the rows costs. A rollback whose down drops a table of 100,000 rows,
 * with the stash on against "stash": false (both --no-snapshot, server running), and the migrate that
 * applies the migration again, restoring them, against the plain migrate. Interleaved, medians.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dbguardIn, median, migrationProject, printTable, runningEmbeddedClient, setAside, timed } from './util.js';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 5);
const ROWS = 100_000;

const { root } = migrationProject('dbguard-bench-stash-', 1);
const dir = join(root, 'migrations');
writeFileSync(join(dir, '2_events.up.sql'), 'CREATE TABLE events (id bigserial PRIMARY KEY, user_id int REFERENCES users, kind text NOT NULL, payload jsonb, created_at timestamptz NOT NULL DEFAULT now());');
writeFileSync(join(dir, '2_events.down.sql'), 'DROP TABLE events;');
const dbguard = dbguardIn(root);
const { hide, show } = setAside(dir, '2_');

const configure = (stash: boolean) => writeFileSync(join(root, 'dbguard.config.json'), JSON.stringify({ migrationsDir: 'migrations', snapshots: false, ...(stash ? {} : { stash: false }) }));

configure(true);
dbguard('db', 'start');
const { client } = await runningEmbeddedClient(root);
const fill = () => client.query(`INSERT INTO events (user_id, kind, payload) SELECT NULL, 'kind ' || (g % 7), jsonb_build_object('n', g, 'note', md5(g::text)) FROM generate_series(1, ${ROWS}) g`);
const count = async () => Number((await client.query<{ n: string }>('SELECT count(*)::text AS n FROM events')).rows[0]?.n);

try {
  dbguard('migrate');
  await fill();
  const samples = { rollbackStash: [] as number[], rollbackPlain: [] as number[], migrateRestore: [] as number[], migratePlain: [] as number[] };
  for (let trial = 0; trial < TRIALS; trial++) {
    for (const stash of [true, false]) {
      configure(stash);
      hide();
      (stash ? samples.rollbackStash : samples.rollbackPlain).push(timed(() => dbguard('rollback', '--yes', '--no-snapshot')));
      show();
      (stash ? samples.migrateRestore : samples.migratePlain).push(timed(() => dbguard('migrate')));
      const rows = await count();
      if (stash && rows !== ROWS) throw new Error(`the stash put back ${rows} rows, expected ${ROWS}`);
      if (!stash) {
        if (rows !== 0) throw new Error(`without the stash the table should come back empty, has ${rows}`);
        await fill();
      }
    }
  }
  const [rs, rp, mr, mp] = [samples.rollbackStash, samples.rollbackPlain, samples.migrateRestore, samples.migratePlain].map(median) as [number, number, number, number];
  printTable(`a rollback dropping a table of ${ROWS.toLocaleString('en')} rows, server running (median of ${TRIALS})`, [
    ['dbguard rollback, stash on (rows kept in _dbguard)', `${rs.toFixed(0)} ms`],
    ['dbguard rollback, "stash": false (rows dropped)', `${rp.toFixed(0)} ms`],
    ['stash on / off', `${(rs / rp).toFixed(2)}x`],
    ['dbguard migrate applying it again, rows restored', `${mr.toFixed(0)} ms`],
    ['dbguard migrate applying it again, empty table', `${mp.toFixed(0)} ms`],
    ['restore on / off', `${(mr / mp).toFixed(2)}x`],
  ]);
} finally {
  await client.end();
  dbguard('db', 'stop');
  rmSync(root, { recursive: true, force: true });
}
