/** Reads dbguard.config.json or package.json's "dbguard" key and resolves the settings. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
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
    // Editors on Windows save UTF-8 with a byte-order mark; JSON.parse calls it an unexpected token.
    return JSON.parse(text.replace(/^\uFEFF/, ''));
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
  const settings = resolveSettings(root, config, env, existing);
  assertStateDirUsable(settings, env);
  return settings;
}

/**
 * The state dir holds the database, its password and the cache: it must be a folder of its own. "."
 * or ".." would mix those with the project's files (and its postgres/ folder), a file cannot hold them.
 */
function assertStateDirUsable(settings: Settings, env: NodeJS.ProcessEnv): void {
  const dir = absoluteStateDir(settings);
  const key = env.DBGUARD_STATE_DIR ? 'DBGUARD_STATE_DIR' : '"stateDir"';
  if (settings.root === dir || settings.root.startsWith(`${dir}${sep}`) || dir === sep) {
    throw new DbguardError('CONFIG_INVALID', `${key} is ${JSON.stringify(settings.stateDir)}, the project folder itself or one above it; dbguard's database and password would mix with your files`, {
      hint: 'set "stateDir" to a folder of its own, such as ".dbguard" (the default)', details: { key: 'stateDir', dir },
    });
  }
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(dir, { throwIfNoEntry: false });
  } catch {
    stats = undefined; // a file above it (ENOTDIR): creating it reports that with STATE_DIR_UNWRITABLE
  }
  if (stats && !stats.isDirectory()) {
    throw new DbguardError('CONFIG_INVALID', `${key} is ${JSON.stringify(settings.stateDir)}, which is ${stats.isFile() ? 'a file' : 'not a folder'} (${dir})`, {
      hint: 'set "stateDir" to a folder of its own, such as ".dbguard" (the default)', details: { key: 'stateDir', dir },
    });
  }
}

export function absoluteStateDir(settings: Settings): string {
  return resolve(settings.root, settings.stateDir);
}

export function absoluteMigrationsDir(settings: Settings): string {
  return resolve(settings.root, settings.migrationsDir);
}
