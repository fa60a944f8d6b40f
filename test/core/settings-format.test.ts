/** Issue 19.3: the migration format, from the config or DBGUARD_FORMAT (the environment wins). */
import { describe, expect, it } from 'vitest';
import { resolveSettings, validateConfig } from '../../src/core/settings.js';

const settings = (config: unknown, env: Record<string, string> = {}) => resolveSettings('/repo', validateConfig(config, 'dbguard.config.json'), env, new Set());

describe('"format"', () => {
  it('is golang-migrate by default (to be told from the files) and when named', () => {
    expect(settings({})).toMatchObject({ format: 'golang-migrate', formatSource: 'default' });
    expect(settings({ format: 'golang-migrate' }).format).toBe('golang-migrate');
  });

  it('names every tool of §15, refuses anything else with the list, and the environment wins', () => {
    for (const name of ['dbmate', 'goose', 'sql-migrate'] as const) expect(settings({ format: name })).toMatchObject({ format: name, formatSource: 'named' });
    expect(() => settings({ format: 'liquibase' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('golang-migrate, dbmate, goose, sql-migrate') }));
    expect(settings({ format: 'golang-migrate' }, { DBGUARD_FORMAT: 'dbmate' }).format).toBe('dbmate');
    expect(settings({ format: 'dbmate' }, { DBGUARD_FORMAT: 'golang-migrate' }).format).toBe('golang-migrate');
    expect(() => settings({}, { DBGUARD_FORMAT: 'flyway' })).toThrow(/DBGUARD_FORMAT says "flyway"/);
  });
});
