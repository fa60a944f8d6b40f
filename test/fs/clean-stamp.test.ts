import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { golangMigrate } from '../../src/formats/golang-migrate.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanStampPath, readHookMemo, recordCheck, snapshotBeforeCheck } from '../../src/fs/clean-stamp.js';
import { hookCleanMarkerPath, writeCacheFile } from '../../src/fs/state.js';

let root: string;
let dir: string;
let cacheFile: string;
let stampFile: string;
const identity = 'embedded:postgres';

function ageBy(path: string, ms: number): void {
  const when = new Date(Date.now() - ms);
  utimesSync(path, when, when);
}

const summary = { database: identity, filenames: ['1_a.up.sql', '2_b.up.sql'], uncaptured: [] as string[] };

function recordNow(clean = true): void {
  recordCheck(stampFile, { dir, identity, cacheFile, summary, clean, captureTriedFor: null }, snapshotBeforeCheck(dir, cacheFile));
}

const memo = (d = dir, id = identity) => readHookMemo(stampFile, d, id, snapshotBeforeCheck(d, cacheFile));
const isKnownClean = (d = dir, id = identity) => memo(d, id).clean;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'dbguard-stamp-'));
  dir = join(root, 'migrations');
  mkdirSync(dir);
  writeFileSync(join(dir, '1_a.up.sql'), 'select 1;');
  mkdirSync(join(root, '.dbguard'));
  cacheFile = join(root, '.dbguard', 'migration_cache.json');
  writeFileSync(cacheFile, '{}');
  stampFile = cleanStampPath(cacheFile);
  ageBy(dir, 60_000);
  ageBy(cacheFile, 60_000);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('clean stamp', () => {
  it('is absent before any clean check', () => {
    expect(isKnownClean()).toBe(false);
  });

  it('trusts an unchanged folder and cache after a recorded clean check', () => {
    recordNow();
    expect(isKnownClean()).toBe(true);
  });

  it('does not trust a folder that gained a file', () => {
    recordNow();
    writeFileSync(join(dir, '2_b.up.sql'), 'select 2;');
    ageBy(dir, 60_000); // even with the mtime set back, ctime moved
    expect(isKnownClean()).toBe(false);
  });

  it('does not trust a folder where a file was renamed', () => {
    recordNow();
    renameSync(join(dir, '1_a.up.sql'), join(dir, '1_b.up.sql'));
    expect(isKnownClean()).toBe(false);
  });

  it('does not trust a rewritten cache', () => {
    recordNow();
    writeFileSync(cacheFile, '{"changed":true}');
    ageBy(cacheFile, 60_000);
    expect(isKnownClean()).toBe(false);
  });

  it('does not trust a racily clean folder (changed in the same moment as the check)', () => {
    utimesSync(dir, new Date(), new Date());
    recordNow();
    expect(isKnownClean()).toBe(false);
  });

  it('does not trust a stamp made for another database or another folder', () => {
    recordNow();
    expect(isKnownClean(dir, 'postgres://localhost:5432/other')).toBe(false);
    const otherDir = join(root, 'other');
    mkdirSync(otherDir);
    expect(isKnownClean(otherDir)).toBe(false);
  });

  it('records nothing when the folder changed while the check ran', () => {
    const before = snapshotBeforeCheck(dir, cacheFile);
    symlinkSync(join(dir, '1_a.up.sql'), join(dir, '3_c.up.sql'));
    recordCheck(stampFile, { dir, identity, cacheFile, summary, clean: true, captureTriedFor: null }, before);
    expect(isKnownClean()).toBe(false);
  });

  it('keeps the cache summary when only the folder changed, and drops it when the cache changed', () => {
    recordNow();
    writeFileSync(join(dir, '3_c.up.sql'), 'select 3;');
    expect(memo()).toEqual({ summary, clean: false, captureTriedFor: null });
    writeFileSync(cacheFile, '{"rewritten":1}');
    ageBy(cacheFile, 60_000);
    expect(memo()).toEqual({ summary: null, clean: false, captureTriedFor: null });
  });

  it('records the summary but not "clean" after a check that found a conflict', () => {
    recordNow(false);
    expect(memo()).toEqual({ summary, clean: false, captureTriedFor: null });
  });

  it('does not trust a summary recorded while the cache was racily new', () => {
    utimesSync(cacheFile, new Date(), new Date());
    recordNow();
    expect(memo()).toEqual({ summary: null, clean: false, captureTriedFor: null });
  });

  it('treats a corrupt stamp as absent', () => {
    writeFileSync(stampFile, '{not json');
    expect(isKnownClean()).toBe(false);
  });

  it('remembers which uncaptured versions were searched for, even when the cache is too new to trust', () => {
    const lacking = { ...summary, uncaptured: ['2'] };
    recordCheck(stampFile, { dir, identity, cacheFile, summary: lacking, clean: true, captureTriedFor: '2' }, snapshotBeforeCheck(dir, cacheFile));
    expect(memo()).toEqual({ clean: true });
    writeFileSync(join(dir, '3_c.up.sql'), 'select 3;');
    expect(memo()).toEqual({ summary: lacking, clean: false, captureTriedFor: '2' });
    writeFileSync(cacheFile, '{"rewritten":2}'); // rewritten this instant: the summary is not trusted, the search is
    expect(memo()).toEqual({ summary: null, clean: false, captureTriedFor: '2' });
  });

  it('leaves the shim a fast-path marker after a clean check, and any cache write takes it away', () => {
    const gitDir = join(root, 'gitdir');
    mkdirSync(gitDir);
    const fastPath = { gitDir, pathspecs: ['migrations', 'dbguard.config.json'], watch: dir };
    recordCheck(stampFile, { dir, identity, cacheFile, summary, clean: true, captureTriedFor: null, fastPath }, snapshotBeforeCheck(dir, cacheFile));
    const marker = hookCleanMarkerPath(cacheFile);
    expect(existsSync(marker)).toBe(true);
    expect(readFileSync(join(gitDir, 'dbguard-fast-path'), 'utf8')).toBe(`${marker}\t${dir}\tmigrations\tdbguard.config.json\n`);
    writeCacheFile(cacheFile, { database: identity, migrations: new Map() }, golangMigrate);
    expect(existsSync(marker)).toBe(false);
    recordCheck(stampFile, { dir, identity, cacheFile, summary, clean: false, captureTriedFor: null, fastPath }, snapshotBeforeCheck(dir, cacheFile));
    expect(existsSync(marker)).toBe(false);
    // Not clean: the project keeps a line naming only its (absent) marker, so the shim runs node.
    expect(readFileSync(join(gitDir, 'dbguard-fast-path'), 'utf8')).toBe(`${marker}\n`);
  });

  it('keeps one fast-path line per project (a monorepo), replacing only its own, and drops lines of the old format', () => {
    const gitDir = join(root, 'gitdir2');
    mkdirSync(gitDir);
    const otherMarker = join(root, 'other', 'hook-clean');
    writeFileSync(join(gitDir, 'dbguard-fast-path'), `${otherMarker}\t/x\tother/migrations\nmigrations\n`);
    const fastPath = { gitDir, pathspecs: ['migrations'], watch: dir };
    recordCheck(stampFile, { dir, identity, cacheFile, summary, clean: true, captureTriedFor: null, fastPath }, snapshotBeforeCheck(dir, cacheFile));
    const marker = hookCleanMarkerPath(cacheFile);
    expect(readFileSync(join(gitDir, 'dbguard-fast-path'), 'utf8')).toBe(`${otherMarker}\t/x\tother/migrations\n${marker}\t${dir}\tmigrations\n`);
  });
});
