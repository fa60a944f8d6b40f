/** Reads dbguard.config.json or package.json's "dbguard" key and resolves the settings. */
import { existsSync, opendirSync, statSync, type Dir } from 'node:fs';
import { detectFormat, FORMATS, isFormatName, type FormatName } from '../formats/index.js';
import { FORMAT_FILE, readStateText } from './state.js';
import { linkLeavesRepository } from './migrations-dir.js';
import { readBoundedText, readHead } from './bounded-read.js';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { isWithin, realPathOf, repositoryRealPath } from './paths.js';
import { readCheckoutPlace } from './server-location.js';
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

/** A config is small; anything larger (or not a regular file: /dev/zero, a FIFO) is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

function parseJson(path: string): unknown {
  let text: string;
  try {
    text = readBoundedText(path, MAX_CONFIG_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new DbguardError('CONFIG_INVALID', `cannot read ${path}: ${code === 'ENOTREG' ? 'not a regular file' : code === 'EFBIG' ? 'over 1 MiB' : code}`, {
      hint: `make ${path} a plain JSON file`,
    });
  }
  try {
    // Editors on Windows save UTF-8 with a byte-order mark; JSON.parse calls it an unexpected token.
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    // Where, not what: the text may not be ours to print (a config linked to another file).
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new DbguardError('CONFIG_NOT_JSON', `${path} is not valid JSON${at === undefined ? '' : ` (at character ${at})`}`, { hint: `fix the JSON syntax in ${path}` });
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
  const settings = withIndex(withFormat(resolveSettings(root, config, env, existing, readCheckoutPlace(root))));
  assertStateDirUsable(settings, env);
  assertInsideRepository(settings);
  return settings;
}

/** A migration file's first bytes, enough for its markers; null when it cannot be read as one. */
function headOf(dir: string, name: string): string | null {
  try {
    // Only the repository's own regular files: never a link out of it, never a FIFO (it would block).
    return linkLeavesRepository(dir, name) === null ? readHead(join(dir, name), 64 * 1024)?.toString('utf8') ?? null : null;
  } catch {
    return null;
  }
}

function rememberedFormat(settings: Settings): FormatName | null {
  const name = readStateText(join(absoluteStateDir(settings), FORMAT_FILE))?.trim() ?? '';
  return isFormatName(name) ? name : null;
}

function* namesIn(folder: Dir): Generator<string> {
  for (let entry = folder.readSync(); entry !== null; entry = folder.readSync()) yield entry.name;
}

/**
 * The format not named: told from the files (DESIGN §15), else remembered from the last command. A folder
 * that cannot be listed yet is golang-migrate's until a command reports why.
 */
function withFormat(settings: Settings): Settings {
  if (settings.formatSource === 'named') return settings;
  const dir = absoluteMigrationsDir(settings);
  let detected: FormatName | null;
  try {
    // Entry by entry, stopping at the first that tells: a folder of 40,000 files costs one read, not a listing.
    const folder = opendirSync(dir);
    try {
      detected = detectFormat(namesIn(folder), (name) => headOf(dir, name));
    } finally {
      folder.closeSync();
    }
  } catch {
    detected = null; // not there or not readable: the command that lists it says why
  }
  // No file tells (a branch without migrations): the format the last session used, kept beside the cache.
  detected ??= rememberedFormat(settings);
  return detected === null ? settings : { ...settings, format: detected, formatSource: 'detected' };
}

/**
 * A tool whose versions come from a file beside its migrations (Drizzle's journal): the settings carry
 * a reader of that file, which the format is bound to. It reads once, when a file name is first parsed,
 * so the hook's clean path (nothing changed) never reads or parses a journal of thousands of entries.
 * No file: no migrations yet.
 */
function withIndex(settings: Settings): Settings {
  const index = FORMATS[settings.format].index;
  if (index === undefined) return settings;
  const dir = absoluteMigrationsDir(settings);
  let versions: ReadonlyMap<string, bigint> | undefined;
  const read = (): ReadonlyMap<string, bigint> => {
    let text: string | null;
    try {
      text = readIndexText(dir, index.file);
    } catch (error) {
      throw new DbguardError('MIGRATION_FILE_INVALID', `cannot read ${join(settings.migrationsDir, index.file)} (${(error as NodeJS.ErrnoException).code ?? 'EUNKNOWN'})`, {
        hint: `check ${join(dir, index.file)}`, details: { file: index.file },
      });
    }
    return text === null ? new Map() : index.read(text);
  };
  return { ...settings, migrationIndex: () => (versions ??= read()) };
}

/** The index file's text (bounded, never through a link out of the repository); null when it is not there. */
function readIndexText(dir: string, file: string): string | null {
  if (!existsSync(join(dir, file))) return null;
  if (linkLeavesRepository(dir, file) !== null) throw Object.assign(new Error('a link outside the repository'), { code: 'EOUTSIDE' });
  return readBoundedText(join(dir, file), MAX_INDEX_BYTES);
}

/** Drizzle's journal holds about 120 bytes a migration. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/**
 * A repository's config names its folders; they must stay inside it. A migrations folder of "../x",
 * "/etc" or a link to either would have dbguard read (and migrate apply) files the project does not
 * hold; a relative state dir that is a link out of it would put the database and password elsewhere.
 */
function assertInsideRepository(settings: Settings): void {
  const top = repositoryRealPath(settings.root);
  const migrations = realPathOf(absoluteMigrationsDir(settings));
  if (!isWithin(migrations, top)) {
    throw new DbguardError('CONFIG_INVALID', `"migrationsDir" is ${JSON.stringify(settings.migrationsDir)}, which leads outside the repository (${migrations}); only the repository's own files are read as migrations`, {
      hint: 'set "migrationsDir" to a folder inside the repository', details: { key: 'migrationsDir', dir: migrations },
    });
  }
  if (!isAbsolute(settings.stateDir) && !isWithin(realPathOf(absoluteStateDir(settings)), top)) {
    throw new DbguardError('CONFIG_INVALID', `"stateDir" is ${JSON.stringify(settings.stateDir)}, a relative path that leads outside the repository through a link`, {
      hint: 'remove the link, or give "stateDir" as an absolute path if the state really belongs elsewhere', details: { key: 'stateDir' },
    });
  }
}

/**
 * The state dir holds the database, its password and the cache: it must be a folder of its own. "."
 * or ".." would mix those with the project's files (and its postgres/ folder), a file cannot hold them.
 */
function assertStateDirUsable(settings: Settings, env: NodeJS.ProcessEnv): void {
  const dir = absoluteStateDir(settings);
  const key = env.DBGUARD_STATE_DIR ? 'DBGUARD_STATE_DIR' : '"stateDir"';
  if (isWithin(settings.root, dir) || dir === sep) {
    throw new DbguardError('CONFIG_INVALID', `${key} is ${JSON.stringify(settings.stateDir)}, the project folder itself or one above it; dbguard's database and password would mix with your files`, {
      hint: 'set "stateDir" to a folder of its own, such as ".dbguard" (the default)', details: { key: 'stateDir', dir },
    });
  }
  const migrations = absoluteMigrationsDir(settings);
  if (/[\n\r]/.test(settings.stateDir) || dir === migrations || isWithin(migrations, dir) || isWithin(dir, migrations) || basename(dir) === '.git' || isWithin(dir, join(settings.root, '.git'))) {
    throw new DbguardError('CONFIG_INVALID', `${key} is ${JSON.stringify(settings.stateDir)}: it must be a folder of its own, not the migrations folder, inside it or around it, nor git's folder, and without line breaks`, {
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
