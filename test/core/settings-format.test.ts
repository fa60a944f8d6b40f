/** Issue 19.3: the migration format, from the config or DBGUARD_FORMAT (the environment wins). */
import { describe, expect, it } from 'vitest';
import { resolveSettings, validateConfig } from '../../src/core/settings.js';

const settings = (config: unknown, env: Record<string, string> = {}) => resolveSettings('/repo', validateConfig(config, 'dbguard.config.json'), env, new Set());

describe('"format"', () => {
  it('is golang-migrate by default and when named', () => {
    expect(settings({}).format).toBe('golang-migrate');
    expect(settings({ format: 'golang-migrate' }).format).toBe('golang-migrate');
  });

  it('names the planned tools as not yet supported, and anything else as unknown; the environment wins', () => {
    expect(() => settings({ format: 'sql-migrate' })).toThrow(expect.objectContaining({ code: 'FORMAT_NOT_SUPPORTED' }));
    expect(() => settings({ format: 'liquibase' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => settings({ format: 'golang-migrate' }, { DBGUARD_FORMAT: 'dbmate' })).toThrow(/DBGUARD_FORMAT says "dbmate"/);
    expect(settings({ format: 'dbmate' }, { DBGUARD_FORMAT: 'golang-migrate' }).format).toBe('golang-migrate');
  });
});
