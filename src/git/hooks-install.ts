/**
 * Installs dbguard's hooks where git will run them: husky's `.husky/<hook>` scripts, a custom
 * `core.hooksPath`, or the repository's hooks folder (shared by linked worktrees). An existing hook is
 * kept and chained; installing twice changes nothing; uninstall restores what was there.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { DbguardError } from '../core/errors.js';
import {
  BLOCK_START, CHAINED_SUFFIX, chainedHook, HOOK_NAMES, standaloneHook, withDbguardBlock, withoutDbguardBlocks, type HookName,
} from './hook-scripts.js';
import { openRepo } from './repo.js';

export type HookLayoutKind = 'husky' | 'hooksPath' | 'git';

export interface HookLayout {
  readonly kind: HookLayoutKind;
  /** Where the scripts we edit live. */
  readonly dir: string;
}

export interface HookState {
  readonly name: HookName;
  readonly path: string;
  readonly installed: boolean;
  /** A hook that was there before us and now runs after ours. */
  readonly chained: boolean;
}

async function git(root: string, args: string[]): Promise<string> {
  const repo = await openRepo(root);
  try {
    return (await repo.raw(args)).trim();
  } catch (error) {
    throw new DbguardError('NOT_A_GIT_REPO', `${root} is not a git repository (${(error as Error).message.trim().split('\n')[0]})`, {
      hint: 'run this inside a git repository (git init)',
    });
  }
}

export async function detectHookLayout(root: string): Promise<HookLayout> {
  const top = await git(root, ['rev-parse', '--show-toplevel']);
  const hooksPath = await git(top, ['config', '--get', 'core.hooksPath']).catch(() => '');
  if (hooksPath) {
    const absolute = isAbsolute(hooksPath) ? hooksPath : resolve(top, hooksPath);
    // husky v9 points core.hooksPath at .husky/_ and runs the user's scripts in .husky/.
    if (basename(absolute) === '_' && basename(resolve(absolute, '..')) === '.husky') return { kind: 'husky', dir: resolve(absolute, '..') };
    return { kind: 'hooksPath', dir: absolute };
  }
  const gitPath = await git(top, ['rev-parse', '--git-path', 'hooks']);
  return { kind: 'git', dir: isAbsolute(gitPath) ? gitPath : resolve(top, gitPath) };
}

function readText(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}

function writeScript(path: string, text: string): void {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

function stateOf(layout: HookLayout, name: HookName): HookState {
  const path = join(layout.dir, name);
  const text = readText(path) ?? '';
  return { name, path, installed: text.includes(BLOCK_START), chained: layout.kind !== 'husky' && existsSync(`${path}${CHAINED_SUFFIX}`) };
}

export async function hooksStatus(root: string): Promise<{ layout: HookLayout; hooks: HookState[] }> {
  const layout = await detectHookLayout(root);
  return { layout, hooks: HOOK_NAMES.map((name) => stateOf(layout, name)) };
}

export async function installHooks(root: string): Promise<{ layout: HookLayout; changed: HookName[]; hooks: HookState[] }> {
  const layout = await detectHookLayout(root);
  mkdirSync(layout.dir, { recursive: true });
  const changed: HookName[] = [];
  for (const name of HOOK_NAMES) {
    const path = join(layout.dir, name);
    const existing = readText(path);
    if (existing?.includes(BLOCK_START)) continue;
    if (layout.kind === 'husky') {
      // husky's scripts are the project's own files: our block goes first, their lines stay.
      writeScript(path, withDbguardBlock(existing ?? '', name));
    } else if (existing !== null) {
      renameSync(path, `${path}${CHAINED_SUFFIX}`);
      chmodSync(`${path}${CHAINED_SUFFIX}`, 0o755);
      writeScript(path, chainedHook(name));
    } else {
      writeScript(path, standaloneHook(name));
    }
    changed.push(name);
  }
  return { layout, changed, hooks: HOOK_NAMES.map((name) => stateOf(layout, name)) };
}

export async function uninstallHooks(root: string): Promise<{ layout: HookLayout; changed: HookName[] }> {
  const layout = await detectHookLayout(root);
  const changed: HookName[] = [];
  for (const name of HOOK_NAMES) {
    const path = join(layout.dir, name);
    const existing = readText(path);
    if (existing === null || !existing.includes(BLOCK_START)) continue;
    const rest = withoutDbguardBlocks(existing);
    const chained = `${path}${CHAINED_SUFFIX}`;
    if (layout.kind !== 'husky' && existsSync(chained)) {
      renameSync(chained, path);
    } else if (rest.replace(/^#!.*\n?/, '').trim() === '') {
      rmSync(path);
    } else {
      writeScript(path, rest);
    }
    changed.push(name);
  }
  return { layout, changed };
}
