/** Reads dbguard.config.json or package.json's "dbguard" key and resolves the settings. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DbguardError } from '../core/errors.js';
import { CONFIG_FILE, DEFAULT_MIGRATION_DIRS, resolveSettings, validateConfig, type ConfigFile, type Settings } from '../core/settings.js';

/** The repository root: the nearest folder with a config file or a .git entry, else `cwd` itself. */
export function findRoot(cwd: string): string {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, CONFIG_FILE)) || existsSync(join(dir, '.git'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(cwd);
    dir = parent;
  }
}

function parseJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DbguardError('CONFIG_INVALID', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { hint: `check the permissions of ${path}` });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DbguardError('CONFIG_NOT_JSON', `${path} is not valid JSON: ${(error as Error).message}`, { hint: `fix the JSON syntax in ${path}` });
  }
}

export function readConfigFile(root: string): ConfigFile {
  const configPath = join(root, CONFIG_FILE);
  if (existsSync(configPath)) return validateConfig(parseJson(configPath), CONFIG_FILE);
  const packagePath = join(root, 'package.json');
  if (existsSync(packagePath)) {
    const pkg = parseJson(packagePath);
    if (typeof pkg === 'object' && pkg !== null && 'dbguard' in pkg) return validateConfig(pkg.dbguard, 'package.json "dbguard"');
  }
  return {};
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function loadSettings(cwd: string, env: NodeJS.ProcessEnv = process.env): Settings {
  const root = findRoot(cwd);
  const config = readConfigFile(root);
  const existing = new Set(DEFAULT_MIGRATION_DIRS.filter((dir) => isDirectory(join(root, dir))));
  return resolveSettings(root, config, env, existing);
}

export function absoluteStateDir(settings: Settings): string {
  return resolve(settings.root, settings.stateDir);
}

export function absoluteMigrationsDir(settings: Settings): string {
  return resolve(settings.root, settings.migrationsDir);
}
