/**
 * Installs dbguard's hooks where git will run them: husky's `.husky/<hook>` scripts, a custom
 * `core.hooksPath`, or the repository's hooks folder (shared by linked worktrees). An existing hook is
 * kept and chained; installing twice changes nothing; uninstall restores what was there.
 */
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, relative, resolve } from 'node:path';
import { FAST_PATH_FILE } from '../core/hook-check.js';
import { DbguardError } from '../core/errors.js';
import {
  BLOCK_END, BLOCK_START, CHAINED_SUFFIX, chainedHook, HOOK_NAMES, standaloneHook, withCurrentBlock, withDbguardBlock, withoutDbguardBlocks, type HookName,
} from './hook-scripts.js';
import { runGit } from './plain.js';

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

/** Plain git, not simple-git: the dbguard.* config keys are not on simple-git's allow-list (plain.ts). */
async function git(root: string, args: string[]): Promise<string> {
  try {
    return (await runGit(root, args)).trim();
  } catch (error) {
    throw new DbguardError('GIT_FAILED', `git ${args[0]} failed: ${(error as Error).message.trim().split('\n')[0]}`, {
      hint: 'check that the repository (and its .git folder) is writable by you', cause: error,
    });
  }
}

async function topOf(root: string): Promise<string> {
  try {
    return await git(root, ['rev-parse', '--show-toplevel']);
  } catch {
    throw new DbguardError('NOT_A_GIT_REPO', `${root} is not in a git repository`, { hint: 'run this inside a git repository (git init)' });
  }
}

function hooksDisabled(dir: string): DbguardError {
  return new DbguardError('HOOKS_DISABLED', `core.hooksPath is ${dir}: git runs no hooks from there, so dbguard's cannot be installed`, {
    hint: 'git config --unset core.hooksPath && dbguard hooks install   (or run dbguard check after each checkout)', details: { dir },
  });
}

export async function detectHookLayout(root: string): Promise<HookLayout> {
  const top = await topOf(root);
  // git resolves core.hooksPath itself (a "~/.githooks" is the user's home, not a folder named "~").
  const gitPath = await git(top, ['rev-parse', '--git-path', 'hooks']);
  const dir = isAbsolute(gitPath) ? gitPath : resolve(top, gitPath);
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (dir === '/dev/null' || (stats && !stats.isDirectory())) throw hooksDisabled(dir);
  const hooksPath = await git(top, ['config', '--get', 'core.hooksPath']).catch(() => '');
  if (!hooksPath) return { kind: 'git', dir };
  // husky v9 points core.hooksPath at .husky/_ and runs the user's scripts in .husky/.
  if (basename(dir) === '_' && basename(resolve(dir, '..')) === '.husky') return { kind: 'husky', dir: resolve(dir, '..') };
  return { kind: 'hooksPath', dir };
}

/** Writing into the hooks folder failed (EACCES on a shared hooks folder, a read-only mount). */
function hooksUnwritable(dir: string, error: unknown): DbguardError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return new DbguardError('HOOKS_UNWRITABLE', `cannot write the git hooks in ${dir} (${code}); nothing more was changed`, {
    hint: `fix the permissions of ${dir} (or point core.hooksPath at a folder you own), then dbguard hooks install`, details: { dir, error: code },
  });
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

/** The project folders (from the top, "." for the top itself) whose hooks are installed, in the order recorded. */
export async function recordedProjects(top: string): Promise<string[]> {
  const out = await git(top, ['config', '--local', '--get-all', 'dbguard.project']).catch(() => '');
  return out.split('\n').map((line) => line.trim()).filter(Boolean);
}

/** A project's folder as recorded: relative to the top with forward slashes, "." for the top. */
async function projectKey(root: string): Promise<{ top: string; key: string }> {
  const top = await topOf(root);
  const rel = relative(top, resolve(root)).split('\\').join('/');
  return { top, key: rel === '' || rel.startsWith('..') ? '.' : rel };
}

export async function hookRunner(root: string, env: NodeJS.ProcessEnv = process.env): Promise<HookRunner> {
  const top = await topOf(root);
  const recorded = { bin: await git(top, ['config', '--get', 'dbguard.bin']).catch(() => '') };
  const cwd = resolve(root);
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
 * Records, in the repository's config (shared by its worktrees), this project's folder — a monorepo
 * may hold several dbguard projects, and the shims run the hook in each — and the dbguard that
 * installed the hooks.
 */
async function recordRunner(root: string, recorded: RecordedBinary | undefined): Promise<void> {
  const { top, key } = await projectKey(root);
  if (!(await recordedProjects(top)).includes(key)) await git(top, ['config', '--local', '--add', 'dbguard.project', key]);
  if (recorded) {
    await git(top, ['config', '--local', 'dbguard.bin', recorded.bin]);
    await git(top, ['config', '--local', 'dbguard.node', recorded.node]);
  }
}

/** The shim's memo of clean checks lives in each worktree's git dir: a re-install or uninstall drops it. */
async function dropFastPathFiles(top: string): Promise<void> {
  const common = await git(top, ['rev-parse', '--git-common-dir']).catch(() => '');
  if (!common) return;
  const commonDir = isAbsolute(common) ? common : resolve(top, common);
  const worktrees = join(commonDir, 'worktrees');
  const dirs = [commonDir, ...(existsSync(worktrees) ? readdirSync(worktrees).map((name) => join(worktrees, name)) : [])];
  for (const dir of dirs) rmSync(join(dir, FAST_PATH_FILE), { force: true });
}

/** A hook that another tool rewrote while ours was installed: the copy saved earlier is kept, never overwritten. */
function keepEarlierSave(path: string): string | null {
  const saved = `${path}${CHAINED_SUFFIX}`;
  if (!existsSync(saved)) return null;
  const kept = `${saved}.${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(saved, kept);
  return kept;
}

export interface InstallResult {
  readonly layout: HookLayout;
  readonly changed: HookName[];
  readonly hooks: HookState[];
  /** Hooks saved by an earlier install that another tool's hook replaced since: kept under these names. */
  readonly keptEarlier: string[];
}

export async function installHooks(root: string, recorded?: RecordedBinary): Promise<InstallResult> {
  const layout = await detectHookLayout(root);
  await recordRunner(root, recorded);
  await dropFastPathFiles(await topOf(root));
  const changed: HookName[] = [];
  const keptEarlier: string[] = [];
  try {
    mkdirSync(layout.dir, { recursive: true });
    for (const name of HOOK_NAMES) {
      const path = join(layout.dir, name);
      const existing = readText(path);
      if (existing?.includes(BLOCK_START)) {
        // Installed by an older dbguard: its block is brought up to this version's (a fix in the shim
        // reaches projects that installed before it).
        const current = withCurrentBlock(existing, name);
        if (current !== existing) {
          writeScript(path, current);
          changed.push(name);
        }
        continue;
      }
      if (layout.kind === 'husky') {
        // husky's scripts are the project's own files: our block goes first, their lines stay.
        writeScript(path, withDbguardBlock(existing ?? '', name));
      } else if (existing !== null) {
        const kept = keepEarlierSave(path);
        if (kept) keptEarlier.push(kept);
        renameSync(path, `${path}${CHAINED_SUFFIX}`);
        chmodSync(`${path}${CHAINED_SUFFIX}`, 0o755);
        writeScript(path, chainedHook(name));
      } else {
        writeScript(path, standaloneHook(name));
      }
      changed.push(name);
    }
  } catch (error) {
    if (error instanceof DbguardError) throw error;
    throw hooksUnwritable(layout.dir, error);
  }
  return { layout, changed, hooks: HOOK_NAMES.map((name) => stateOf(layout, name)), keptEarlier };
}

export interface UninstallResult {
  readonly layout: HookLayout;
  readonly changed: HookName[];
  /** Other dbguard projects in this repository still use the hooks, so they stay. */
  readonly stillUsedBy: string[];
  /** Hooks whose lines added by hand were kept, with the saved original left beside them. */
  readonly keptEdits: Array<{ name: HookName; saved: string }>;
}

export async function uninstallHooks(root: string): Promise<UninstallResult> {
  const layout = await detectHookLayout(root);
  const { top, key } = await projectKey(root);
  const others = (await recordedProjects(top)).filter((project) => project !== key);
  // Checked before anything changes: a block whose end marker is gone cannot be cut out safely.
  for (const name of HOOK_NAMES) {
    const text = readText(join(layout.dir, name));
    if (text !== null && text.includes(BLOCK_START) && !text.includes(BLOCK_END)) {
      throw new DbguardError('HOOK_DAMAGED', `${join(layout.dir, name)} has dbguard's start line but not its end line ("${BLOCK_END}"); nothing was changed`, {
        hint: `remove dbguard's lines from ${join(layout.dir, name)} by hand (from "${BLOCK_START}"), then dbguard hooks uninstall`,
        details: { file: join(layout.dir, name) },
      });
    }
  }
  if (others.length > 0) {
    await git(top, ['config', '--local', '--unset-all', 'dbguard.project', `^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`]).catch(() => '');
    return { layout, changed: [], stillUsedBy: others, keptEdits: [] };
  }
  await git(top, ['config', '--local', '--remove-section', 'dbguard']).catch(() => '');
  await dropFastPathFiles(top);
  const changed: HookName[] = [];
  const keptEdits: Array<{ name: HookName; saved: string }> = [];
  try {
    for (const name of HOOK_NAMES) {
      const path = join(layout.dir, name);
      const existing = readText(path);
      if (existing === null || !existing.includes(BLOCK_START)) continue;
      const rest = withoutDbguardBlocks(existing);
      const own = rest.replace(/^#!.*\n?/, '').trim() !== '';
      const chained = `${path}${CHAINED_SUFFIX}`;
      if (layout.kind !== 'husky' && existsSync(chained)) {
        // Lines added to our hook by hand stay where they are, and so does the saved original: neither is lost.
        if (own) {
          writeScript(path, rest);
          keptEdits.push({ name, saved: chained });
        } else {
          renameSync(chained, path);
        }
      } else if (!own) {
        rmSync(path);
      } else {
        writeScript(path, rest);
      }
      changed.push(name);
    }
  } catch (error) {
    throw hooksUnwritable(layout.dir, error);
  }
  return { layout, changed, stillUsedBy: [], keptEdits };
}
