/** `dbguard init`: config file, state dir in .gitignore, hooks installed, and what to do next. */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, isDbguardError } from '../core/errors.js';
import { CONFIG_FILE, DEFAULT_MIGRATION_DIRS } from '../core/settings.js';
import { findRoot, loadSettings } from '../fs/config.js';
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

function ensureIgnored(root: string, entry: string): boolean {
  const path = join(root, '.gitignore');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const wanted = entry.replace(/\/?$/, '/');
  if (text.split(/\r?\n/).some((line) => line.trim().replace(/^\//, '').replace(/\/?$/, '/') === wanted)) return false;
  writeFileSync(path, `${text}${text && !text.endsWith('\n') ? '\n' : ''}${wanted}\n`);
  return true;
}

export async function initCommand(ctx: CommandContext): Promise<CommandResult> {
  const root = findRoot(ctx.cwd);
  const { out } = ctx;
  const configPath = join(root, CONFIG_FILE);
  let wroteConfig = false;
  if (!existsSync(configPath)) {
    const migrationsDir = DEFAULT_MIGRATION_DIRS.find((dir) => isDir(join(root, dir))) ?? 'migrations';
    writeFileSync(configPath, `${JSON.stringify({ migrationsDir, stateDir: '.dbguard', onConflict: 'warn' }, null, 2)}\n`);
    wroteConfig = true;
  }
  const settings = loadSettings(root, ctx.env);
  const ignored = settings.stateDir.startsWith('/') ? false : ensureIgnored(root, settings.stateDir);
  let hooks: string[] = [];
  let hooksError: string | null = null;
  try {
    hooks = (await installHooks(root, thisBinary())).changed;
  } catch (error) {
    if (!isDbguardError(error)) throw error;
    hooksError = error.message;
  }
  out.line(wroteConfig ? `wrote ${CONFIG_FILE} (migrationsDir: ${settings.migrationsDir})` : `kept the existing configuration (migrationsDir: ${settings.migrationsDir})`);
  if (ignored) out.line(`added ${settings.stateDir}/ to .gitignore`);
  out.line(hooksError ? out.c.yellow(`hooks not installed: ${hooksError}`) : `hooks: ${hooks.length ? `installed ${hooks.join(', ')}` : 'already installed'}`);
  out.line('');
  out.line('next:');
  out.line('  dbguard migrate     apply your migrations to the embedded database (captures their down SQL)');
  out.line('  dbguard capture     or, if your own migrator applies them, run this after it');
  return { exitCode: ExitCode.ok, json: { root, wroteConfig, ignored, hooks, hooksError, migrationsDir: settings.migrationsDir } };
}
