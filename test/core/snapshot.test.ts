import { describe, expect, it } from 'vitest';
import {
  assertSnapshotName, automaticSnapshotName, chooseSnapshotStrategy, encodeSnapshotComment, parseSnapshotComment, retentionVictims, snapshotDatabaseName, undoTarget,
  type SnapshotMeta,
} from '../../src/core/snapshot.js';

const meta = (name: string, createdAt: string, reason: SnapshotMeta['reason'] = 'rollback'): SnapshotMeta => ({
  name, of: 'app', reason, auto: reason !== 'manual', version: '2', createdAt, strategy: 'template', location: `dbguard_snap_${name}`,
});

describe('snapshots as data (§12)', () => {
  it('names: automatic ones by reason and second, unique; copy databases short and recognisable; given names checked', () => {
    const at = new Date('2026-11-26T10:31:45.123Z');
    expect(automaticSnapshotName('rollback', at, new Set())).toBe('rollback-20261126-103145');
    expect(automaticSnapshotName('rollback', at, new Set(['rollback-20261126-103145']))).toBe('rollback-20261126-103145-2');
    const db = snapshotDatabaseName(at, 'ab12CD34ef');
    expect(db).toBe('dbguard_snap_20261126103145_ab1234ef');
    expect(db.length).toBeLessThanOrEqual(63);
    expect(() => assertSnapshotName('before-experiment.1')).not.toThrow();
    for (const bad of ['', '-x', 'has space', 'a;b', 'x'.repeat(64)]) expect(() => assertSnapshotName(bad)).toThrow(/not a valid snapshot name/);
  });

  it('the record on the copy: round trip; a missing or foreign comment is a half-written copy', () => {
    const m = meta('a', '2026-11-26T10:00:00.000Z');
    expect(parseSnapshotComment(encodeSnapshotComment(m))).toEqual(m);
    expect(parseSnapshotComment(null)).toBeNull();
    expect(parseSnapshotComment('some other tool')).toBeNull();
    expect(parseSnapshotComment('dbguard snapshot {broken')).toBeNull();
  });

  it('retention drops the oldest automatic ones beyond keep, never saved ones; undo skips what a restore kept', () => {
    const list = [
      meta('r1', '2026-11-26T10:00:00Z'), meta('mine', '2026-11-26T10:01:00Z', 'manual'), meta('r2', '2026-11-26T10:02:00Z'),
      meta('r3', '2026-11-26T10:03:00Z', 'reset'), meta('undone', '2026-11-26T10:04:00Z', 'restore'),
    ];
    // r2 is the newest rollback snapshot, r3 the only reset one: each kind keeps its newest.
    expect(retentionVictims(list, 2).map((s) => s.name)).toEqual(['r1']);
    const failedCheckouts = [meta('reset', '2026-11-26T09:00:00Z', 'reset'), ...[1, 2, 3, 4, 5].map((i) => meta(`rb${i}`, `2026-11-26T10:0${i}:00Z`))];
    expect(retentionVictims(failedCheckouts, 5).map((s) => s.name)).toEqual([]);
    expect(retentionVictims([...failedCheckouts, meta('rb6', '2026-11-26T10:06:00Z')], 5).map((s) => s.name)).toEqual(['rb1']);
    expect(undoTarget(list)?.name).toBe('r3');
    expect(undoTarget([meta('mine', '2026-11-26T10:01:00Z', 'manual')])).toBeNull();
  });

  it('strategy: a copy when nothing else is connected; pg_dump for an external one that can be read; else a refusal naming what to do', () => {
    const free = { otherSessions: [], canTemplate: true, dumpTools: null, serverMajor: 18, embedded: true };
    expect(chooseSnapshotStrategy(free, 'app')).toEqual({ strategy: 'template', disconnect: false });
    const busy = { ...free, otherSessions: ['my-app (pid 42)'], embedded: false };
    expect(chooseSnapshotStrategy({ ...busy, dumpTools: { major: 18 } }, 'app')).toEqual({ strategy: 'dump', disconnect: false });
    expect(() => chooseSnapshotStrategy({ ...busy, dumpTools: { major: 15 } }, 'app')).toThrow(/pg_dump 15 on PATH cannot read a PostgreSQL 18 server/);
    expect(() => chooseSnapshotStrategy({ ...busy, dumpTools: null }, 'app')).toThrow(/pg_dump\/psql are not on PATH/);
    expect(() => chooseSnapshotStrategy({ ...free, otherSessions: ['psql (pid 7)'] }, 'app')).toThrow(expect.objectContaining({ code: 'SNAPSHOT_UNAVAILABLE', hint: expect.stringContaining('--no-snapshot') }));
    expect(() => chooseSnapshotStrategy({ ...free, canTemplate: false, embedded: false }, 'app')).toThrow(/may not copy "app"/);
  });

  it('a snapshot saved by hand is refused in its own words: nothing was about to change, and --no-snapshot is not its option (issue 26.7f)', () => {
    const manual = { disconnect: false, goOnWithout: false, manual: true };
    const busy = { otherSessions: ['psql (pid 7)'], canTemplate: true, dumpTools: null, serverMajor: 18, embedded: true };
    expect(() => chooseSnapshotStrategy(busy, 'app', manual)).toThrow(expect.objectContaining({
      code: 'SNAPSHOT_UNAVAILABLE', message: 'cannot snapshot "app": other sessions use "app" (psql (pid 7)); nothing was changed',
      hint: 'add --disconnect to end those sessions for the copy (a pool reconnects), or close them (stop your app, quit psql)',
    }));
    expect(() => chooseSnapshotStrategy({ ...busy, otherSessions: [], canTemplate: false, embedded: false }, 'app', manual)).toThrow(expect.objectContaining({
      message: 'cannot snapshot "app": this user may not copy "app" (CREATE DATABASE … TEMPLATE needs CREATEDB and ownership), and pg_dump/psql are not on PATH; nothing was changed',
      hint: 'put pg_dump and psql of a version that can read the server on PATH, or give this user CREATEDB and ownership of "app"',
    }));
  });

  it('a connected app (§14): --disconnect copies after ending its sessions; before a rollback, no snapshot instead of a refusal', () => {
    const appConnected = { otherSessions: ['my-app (pid 42)'], canTemplate: true, dumpTools: null, serverMajor: 18, embedded: true };
    expect(chooseSnapshotStrategy(appConnected, 'app', { disconnect: true, goOnWithout: false })).toEqual({ strategy: 'template', disconnect: true });
    expect(chooseSnapshotStrategy(appConnected, 'app', { disconnect: false, goOnWithout: true })).toEqual({ skip: ['my-app (pid 42)'] });
    expect(() => chooseSnapshotStrategy(appConnected, 'app', { disconnect: false, goOnWithout: false })).toThrow(expect.objectContaining({ hint: expect.stringContaining('--disconnect') }));
    // An external database with a pg_dump that reads it still gets its dump rather than nothing.
    expect(chooseSnapshotStrategy({ ...appConnected, embedded: false, dumpTools: { major: 18 } }, 'app', { disconnect: false, goOnWithout: true })).toEqual({ strategy: 'dump', disconnect: false });
  });
});
