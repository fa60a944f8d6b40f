/** `dbguard init`: config file, state dir in .gitignore, hooks installed, and what to do next. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { DbguardError, ExitCode, isDbguardError } from '../core/errors.js';
import { CONFIG_FILE, DEFAULT_MIGRATION_DIRS } from '../core/settings.js';
import { absoluteStateDir, loadSettings } from '../fs/config.js';
import { findGitLocation } from '../fs/git-dir.js';
import { installHooks } from '../git/hooks-install.js';
import type { CommandContext, CommandResult } from './context.js';
import { thisBinary } from './hooks.js';

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The folder the project lives in: the nearest one (from here up to the repository's top) that has a
 * config, else the nearest with a migrations folder, else here. In a monorepo, `init` in services/api
 * sets up services/api, not the repository's top.
 */
function projectFolder(cwd: string, top: string): string {
  const chain: string[] = [];
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    chain.push(dir);
    if (dir === top || dirname(dir) === dir) break;
  }
  return chain.find((dir) => existsSync(join(dir, CONFIG_FILE)))
    ?? chain.find((dir) => DEFAULT_MIGRATION_DIRS.some((m) => isDir(join(dir, m))))
    ?? resolve(cwd);
}

/** The .gitignore line for the state dir, from the project folder: "./.dbguard" and ".dbguard/" are one folder. */
function ignoreEntry(root: string, stateDir: string): string | null {
  const rel = relative(root, resolve(root, stateDir));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return null; // outside the project: nothing of it to commit
  // gitignore's own specials in a folder name ([ab], a*b) are escaped, so the entry names that folder only.
  return `/${rel.split(sep).join('/').replace(/[[\]*?\\]/g, '\\$&')}/`;
}

function ensureIgnored(root: string, entry: string): boolean {
  const path = join(root, '.gitignore');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const normal = (line: string) => `/${line.trim().replace(/^\.?\//, '').replace(/\/+$/, '')}/`;
  if (text.split(/\r?\n/).some((line) => line.trim() !== '' && normal(line) === entry)) return false;
  writeFileSync(path, `${text}${text && !text.endsWith('\n') ? '\n' : ''}${entry}\n`);
  return true;
}

/** Whether git really ignores the state dir's files (a later "!" rule or a global setting can undo a line). */
function gitIgnores(root: string, stateDir: string): boolean {
  try {
    execFileSync('git', ['check-ignore', '-q', '--no-index', join(stateDir, 'postgres.password')], { cwd: root, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function initCommand(ctx: CommandContext): Promise<CommandResult> {
  const git = findGitLocation(ctx.cwd);
  if (!git) {
    throw new DbguardError('NOT_A_GIT_REPO', `${resolve(ctx.cwd)} is not in a git repository; dbguard follows git branches, so nothing was written`, {
      hint: 'git init   (then dbguard init)',
    });
  }
  const root = projectFolder(ctx.cwd, git.worktree);
  const { out } = ctx;
  const configPath = join(root, CONFIG_FILE);
  let wroteConfig = false;
  let foundMigrations = true;
  if (!existsSync(configPath)) {
    const found = DEFAULT_MIGRATION_DIRS.find((dir) => isDir(join(root, dir)));
    foundMigrations = found !== undefined;
    writeFileSync(configPath, `${JSON.stringify({ migrationsDir: found ?? 'migrations', stateDir: '.dbguard', onConflict: 'warn' }, null, 2)}\n`);
    wroteConfig = true;
  }
  const settings = loadSettings(root, ctx.env);
  // The format told from the files is written down, into a config without one (new or kept, its other
  // keys as they are): the hook then reads no file to know it (§15, §16). With no migrations yet it is
  // left out, to be told from the first ones.
  let addedFormat = false;
  if (settings.formatSource === 'detected' && existsSync(configPath)) {
    const config = JSON.parse(readFileSync(configPath, 'utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
    if (config.format === undefined) {
      writeFileSync(configPath, `${JSON.stringify({ ...config, format: settings.format }, null, 2)}\n`);
      addedFormat = !wroteConfig;
    }
  }
  const formatWhy = { named: 'as configured', detected: 'told from its files', default: 'the default: no migrations yet' }[settings.formatSource];
  const entry = ignoreEntry(root, settings.stateDir);
  const ignored = entry !== null && ensureIgnored(root, entry);
  const leaks = entry !== null && !gitIgnores(root, absoluteStateDir(settings));
  let hooks: string[] = [];
  let hooksError: { code: string; message: string; hint: string | null } | null = null;
  try {
    hooks = (await installHooks(root, thisBinary())).changed;
  } catch (error) {
    if (!isDbguardError(error)) throw error;
    hooksError = { code: error.code, message: error.message, hint: error.hint ?? null };
  }
  const facts = `migrationsDir: ${settings.migrationsDir}, format: ${settings.format} (${formatWhy})`;
  out.line(wroteConfig ? `wrote ${relative(git.worktree, configPath) || CONFIG_FILE} (${facts})` : `kept the existing configuration (${facts})`);
  if (addedFormat) out.line(`added "format": "${settings.format}" to ${relative(git.worktree, configPath) || CONFIG_FILE}`);
  if (!foundMigrations) out.line(out.c.yellow(`no migrations folder here yet (looked for ${DEFAULT_MIGRATION_DIRS.join(', ')}); set "migrationsDir" in ${CONFIG_FILE} if yours is elsewhere`));
  if (ignored) out.line(`added ${entry} to .gitignore`);
  if (leaks) out.line(out.c.red(`warning: git does not ignore ${settings.stateDir}: its password file and database could be committed; fix .gitignore (git check-ignore -v ${join(settings.stateDir, 'postgres.password')})`));
  out.line(hooksError ? out.c.yellow(`hooks not installed: ${hooksError.message}${hooksError.hint ? `\n  next: ${hooksError.hint}` : ''}`) : `hooks: ${hooks.length ? `installed ${hooks.join(', ')}` : 'already installed'}`);
  out.line('');
  out.line('next:');
  out.line('  dbguard migrate     apply your migrations to the embedded database (captures their down SQL)');
  out.line('  dbguard capture     or, if your own migrator applies them, run this after it');
  out.line('  dbguard run -- <app>  or, if your app migrates itself when it starts: dbguard checks first and captures as it goes');
  return {
    exitCode: hooksError || leaks ? ExitCode.actionNeeded : ExitCode.ok,
    json: { root, wroteConfig, ignored, stateDirIgnored: !leaks, hooks, hooksError, migrationsDir: settings.migrationsDir, migrationsDirFound: foundMigrations, format: settings.format, formatSource: settings.formatSource },
  };
}
