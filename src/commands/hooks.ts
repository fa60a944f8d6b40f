/** `dbguard hooks install|uninstall|status`. */
import { DbguardError, ExitCode } from '../core/errors.js';
import { findRoot } from '../fs/config.js';
import { realpathSync } from 'node:fs';
import { hooksStatus, installHooks, uninstallHooks, type RecordedBinary } from '../git/hooks-install.js';
import type { CommandContext, CommandResult } from './context.js';

/** This dbguard (a global install's real bin, or the project's), for the shims to fall back on. */
export function thisBinary(): RecordedBinary | undefined {
  const script = process.argv[1];
  if (!script) return undefined;
  try {
    return { bin: realpathSync(script), node: process.execPath };
  } catch {
    return undefined;
  }
}

const RUNNER_LABEL = {
  project: 'the project\'s node_modules', worktree: 'node_modules at the worktree root', recorded: 'the dbguard recorded by hooks install',
  path: 'dbguard on PATH', none: 'none found: the hooks print one line and skip (npm i -g dbguard)',
} as const;

export const HOOKS_ACTIONS = ['install', 'uninstall', 'status'] as const;

export async function hooksCommand(ctx: CommandContext, action: string): Promise<CommandResult> {
  const root = findRoot(ctx.cwd);
  const { out } = ctx;
  if (action === 'install') {
    const result = await installHooks(root, thisBinary());
    out.line(result.changed.length ? `installed ${result.changed.join(', ')} in ${result.layout.dir} (${result.layout.kind})` : `already installed in ${result.layout.dir} (${result.layout.kind})`);
    for (const hook of result.hooks.filter((h) => h.chained)) out.line(`  ${hook.name}: your existing hook is kept and runs after dbguard's`);
    for (const kept of result.keptEarlier) out.line(out.c.yellow(`  an older saved hook is kept as ${kept} (another tool had replaced dbguard's hook since)`));
    return { exitCode: ExitCode.ok, json: { layout: result.layout, changed: result.changed, hooks: result.hooks, keptEarlier: result.keptEarlier } };
  }
  if (action === 'uninstall') {
    const result = await uninstallHooks(root);
    if (result.stillUsedBy.length > 0) out.line(`this project no longer uses the hooks; they stay for ${result.stillUsedBy.join(', ')} (dbguard hooks uninstall there removes them)`);
    else out.line(result.changed.length ? `removed dbguard from ${result.changed.join(', ')} in ${result.layout.dir}` : 'nothing to remove: dbguard hooks are not installed');
    for (const kept of result.keptEdits) out.line(out.c.yellow(`  ${kept.name}: the lines you added stay; the hook saved before dbguard is still at ${kept.saved} (merge it by hand)`));
    return { exitCode: ExitCode.ok, json: { layout: result.layout, changed: result.changed, stillUsedBy: result.stillUsedBy, keptEdits: result.keptEdits } };
  }
  if (action === 'status') {
    const result = await hooksStatus(root, ctx.env);
    out.line(`hooks folder: ${result.layout.dir} (${result.layout.kind})`);
    for (const hook of result.hooks) out.line(`  ${hook.name.padEnd(14)} ${hook.installed ? out.c.green('installed') : out.c.yellow('not installed')}${hook.chained ? ', chained to the previous hook' : ''}`);
    out.line(`runs: ${result.runner.path ?? '-'}  ${out.c.dim(`(${RUNNER_LABEL[result.runner.kind]})`)}`);
    const all = result.hooks.every((h) => h.installed) && result.runner.kind !== 'none';
    return { exitCode: all ? ExitCode.ok : ExitCode.actionNeeded, json: { layout: result.layout, hooks: result.hooks, runner: result.runner } };
  }
  throw new DbguardError('USAGE', `unknown hooks action "${action}"`, { hint: 'dbguard hooks install|uninstall|status' });
}
