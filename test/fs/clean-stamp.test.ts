import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanStampPath, isKnownClean, recordClean, snapshotBeforeCheck } from '../../src/fs/clean-stamp.js';

let root: string;
let dir: string;
let cacheFile: string;
let stampFile: string;
const identity = 'embedded:postgres';

function ageBy(path: string, ms: number): void {
  const when = new Date(Date.now() - ms);
  utimesSync(path, when, when);
}

function recordNow(): void {
  const before = snapshotBeforeCheck(dir, cacheFile);
  expect(before).not.toBeNull();
  recordClean(stampFile, dir, identity, cacheFile, before!);
}

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
    expect(isKnownClean(stampFile, dir, identity, cacheFile)).toBe(false);
  });

  it('trusts an unchanged folder and cache after a recorded clean check', () => {
    recordNow();
    expect(isKnownClean(stampFile, dir, identity, cacheFile)).toBe(true);
  });

  it('does not trust a folder that gained a file', () => {
    recordNow();
    writeFileSync(join(dir, '2_b.up.sql'), 'select 2;');
    ageBy(dir, 60_000); // even with the mtime set back, ctime moved
    expect(isKnownClean(stampFile, dir, identity, cacheFile)).toBe(false);
  });

  it('does not trust a folder where a file was renamed', () => {
    recordNow();
    renameSync(join(dir, '1_a.up.sql'), join(dir, '1_b.up.sql'));
    expect(isKnownClean(stampFile, dir, identity, cacheFile)).toBe(false);
  });

  it('does not trust a rewritten cache', () => {
    recordNow();
    writeFileSync(cacheFile, '{"changed":true}');
    ageBy(cacheFile, 60_000);
    expect(isKnownClean(stampFile, dir, identity, cacheFile)).toBe(false);
  });

  it('does not trust a racily clean folder (changed in the same moment as the check)', () => {
    utimesSync(dir, new Date(), new Date());
    recordNow();
    expect(isKnownClean(stampFile, dir, identity, cacheFile)).toBe(false);
  });

  it('does not trust a stamp made for another database or another folder', () => {
    recordNow();
    expect(isKnownClean(stampFile, dir, 'postgres://localhost:5432/other', cacheFile)).toBe(false);
    const otherDir = join(root, 'other');
    mkdirSync(otherDir);
    expect(isKnownClean(stampFile, otherDir, identity, cacheFile)).toBe(false);
  });

  it('records nothing when the folder changed while the check ran', () => {
    const before = snapshotBeforeCheck(dir, cacheFile)!;
    symlinkSync(join(dir, '1_a.up.sql'), join(dir, '3_c.up.sql'));
    recordClean(stampFile, dir, identity, cacheFile, before);
    expect(isKnownClean(stampFile, dir, identity, cacheFile)).toBe(false);
  });

  it('treats a corrupt stamp as absent', () => {
    writeFileSync(stampFile, '{not json');
    expect(isKnownClean(stampFile, dir, identity, cacheFile)).toBe(false);
  });
});
