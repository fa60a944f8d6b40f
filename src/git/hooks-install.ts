/**
 * Installs dbguard's hooks where git will run them: husky's `.husky/<hook>` scripts, a custom
 * `core.hooksPath`, or the repository's hooks folder (shared by linked worktrees). An existing hook is
 * kept and chained; installing twice changes nothing; uninstall restores what was there.
 */
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, relative, resolve } from 'node:path';
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

/** The dbguard that `hooks install` ran as: the shim's fallback when the project has no node_modules. */
export interface RecordedBinary {
  readonly bin: string;
  readonly node: string;
}

/** Which dbguard the shims will run, found in the shim's own order (hook-scripts.ts). */
export interface HookRunner {
  readonly kind: 'project' | 'worktree' | 'recorded' | 'path' | 'none';
  readonly path: string | null;
}

const isExecutable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

async function readRecorded(top: string): Promise<{ project: string; bin: string }> {
  const get = (key: string) => git(top, ['config', '--get', key]).catch(() => '');
  return { project: await get('dbguard.project'), bin: await get('dbguard.bin') };
}

export async function hookRunner(root: string, env: NodeJS.ProcessEnv = process.env): Promise<HookRunner> {
  const top = await git(root, ['rev-parse', '--show-toplevel']);
  const recorded = await readRecorded(top);
  const cwd = recorded.project ? join(top, recorded.project) : top;
  for (const [kind, dir] of [['project', cwd], ['worktree', top]] as const) {
    const candidate = join(dir, 'node_modules', '.bin', 'dbguard');
    if (isExecutable(candidate)) return { kind, path: candidate };
  }
  if (recorded.bin && existsSync(recorded.bin)) return { kind: 'recorded', path: recorded.bin };
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (isExecutable(join(dir, 'dbguard'))) return { kind: 'path', path: join(dir, 'dbguard') };
  }
  return { kind: 'none', path: null };
}

export async function hooksStatus(root: string, env: NodeJS.ProcessEnv = process.env): Promise<{ layout: HookLayout; hooks: HookState[]; runner: HookRunner }> {
  const layout = await detectHookLayout(root);
  return { layout, hooks: HOOK_NAMES.map((name) => stateOf(layout, name)), runner: await hookRunner(root, env) };
}

/**
 * Records, in the repository's config (shared by its worktrees), the project folder (for a monorepo
 * whose dbguard config sits below the top) and the dbguard that installed the hooks.
 */
async function recordRunner(root: string, recorded: RecordedBinary | undefined): Promise<void> {
  const top = await git(root, ['rev-parse', '--show-toplevel']);
  const project = relative(top, resolve(root));
  if (project && !project.startsWith('..')) await git(top, ['config', '--local', 'dbguard.project', project.split('\\').join('/')]);
  else await git(top, ['config', '--local', '--unset-all', 'dbguard.project']).catch(() => '');
  if (recorded) {
    await git(top, ['config', '--local', 'dbguard.bin', recorded.bin]);
    await git(top, ['config', '--local', 'dbguard.node', recorded.node]);
  }
}

export async function installHooks(root: string, recorded?: RecordedBinary): Promise<{ layout: HookLayout; changed: HookName[]; hooks: HookState[] }> {
  const layout = await detectHookLayout(root);
  await recordRunner(root, recorded);
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
  await git(root, ['config', '--local', '--remove-section', 'dbguard']).catch(() => '');
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
