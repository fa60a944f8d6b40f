import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, run } from '../helpers/git.js';

describe('dbguard demo', () => {
  it('runs the scripted branch switch end to end on the embedded database and cleans up', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'dbguard-demo-cwd-'));
    try {
      const result = run(process.execPath, [BIN, 'demo'], cwd);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('dbguard: this branch lacks 3 migrations the database has applied');
      expect(result.stdout).toContain('next         dbguard rollback');
      expect(result.stdout).toContain('rolled back 3 migrations');
      expect(result.stdout).toMatch(/✓ users: 3 before, 3 after/);
      expect(result.stdout).toMatch(/✓ posts: 2 before, 2 after/);
      const repo = /A throwaway repository in (\S+):/.exec(result.stdout)?.[1];
      expect(repo).toBeDefined();
      expect(existsSync(repo!)).toBe(false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
