/** Issue 19.3: `dbguard init` tells the format from the files and writes it, so the hook reads no file to know it. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GitRepo } from '../helpers/git.js';

let repo: GitRepo | undefined;
afterEach(() => repo?.cleanup());

const cases = [
  { format: 'dbmate', dir: 'db/migrations', file: '20240101120000_create_users.sql', text: '-- migrate:up\nCREATE TABLE users ();\n\n-- migrate:down\nDROP TABLE users;\n' },
  { format: 'goose', dir: 'migrations', file: '00001_create_users.sql', text: '-- +goose Up\nCREATE TABLE users ();\n\n-- +goose Down\nDROP TABLE users;\n' },
  { format: 'sql-migrate', dir: 'migrations', file: '1_create_users.sql', text: '-- +migrate Up\nCREATE TABLE users ();\n\n-- +migrate Down\nDROP TABLE users;\n' },
  { format: 'golang-migrate', dir: 'migrations', file: '1_create_users.up.sql', text: 'CREATE TABLE users ();\n' },
  { format: 'node-pg-migrate', dir: 'migrations', file: '1700000000000_create-users.sql', text: '-- Up Migration\nCREATE TABLE users ();\n\n-- Down Migration\nDROP TABLE users;\n' },
] as const;

describe('dbguard init and the format', () => {
  it.each(cases)('writes "format": "$format" for a folder of its files', ({ format, dir, file, text }) => {
    repo = GitRepo.create({ nodeModules: false });
    rmSync(join(repo.root, 'migrations'), { recursive: true });
    mkdirSync(join(repo.root, dir), { recursive: true });
    writeFileSync(join(repo.root, dir, file), text);
    const init = repo.dbguard(['init']);
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout).toContain(`wrote dbguard.config.json (migrationsDir: ${dir}, format: ${format} (told from its files))`);
    expect(JSON.parse(readFileSync(join(repo.root, 'dbguard.config.json'), 'utf8'))).toMatchObject({ migrationsDir: dir, format });
  });

  it('leaves the format out while there are no migrations, to be told from the first ones', () => {
    repo = GitRepo.create({ nodeModules: false });
    const init = repo.dbguard(['init', '--json']);
    expect(JSON.parse(init.stdout)).toMatchObject({ format: 'golang-migrate', formatSource: 'default' });
    expect(JSON.parse(readFileSync(join(repo.root, 'dbguard.config.json'), 'utf8')).format).toBeUndefined();
  });

  it('adds the format to a config that lacks it, keeping its other keys', () => {
    repo = GitRepo.create({ nodeModules: false });
    writeFileSync(join(repo.root, 'migrations', '1_a.sql'), '-- +goose Up\nSELECT 1;\n');
    repo.write('dbguard.config.json', JSON.stringify({ onConflict: 'rollback' }));
    const init = repo.dbguard(['init']);
    expect(init.stdout).toContain('added "format": "goose" to dbguard.config.json');
    expect(JSON.parse(readFileSync(join(repo.root, 'dbguard.config.json'), 'utf8'))).toEqual({ onConflict: 'rollback', format: 'goose' });
  });
});
