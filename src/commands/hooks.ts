/** `dbguard hooks install|uninstall|status`. */
import { DbguardError, ExitCode } from '../core/errors.js';
import { findRoot } from '../fs/config.js';
import { hooksStatus, installHooks, uninstallHooks } from '../git/hooks-install.js';
import type { CommandContext, CommandResult } from './context.js';

export const HOOKS_ACTIONS = ['install', 'uninstall', 'status'] as const;

export async function hooksCommand(ctx: CommandContext, action: string): Promise<CommandResult> {
  const root = findRoot(ctx.cwd);
  const { out } = ctx;
  if (action === 'install') {
    const result = await installHooks(root);
    out.line(result.changed.length ? `installed ${result.changed.join(', ')} in ${result.layout.dir} (${result.layout.kind})` : `already installed in ${result.layout.dir} (${result.layout.kind})`);
    for (const hook of result.hooks.filter((h) => h.chained)) out.line(`  ${hook.name}: your existing hook is kept and runs after dbguard's`);
    return { exitCode: ExitCode.ok, json: { layout: result.layout, changed: result.changed, hooks: result.hooks } };
  }
  if (action === 'uninstall') {
    const result = await uninstallHooks(root);
    out.line(result.changed.length ? `removed dbguard from ${result.changed.join(', ')} in ${result.layout.dir}` : 'nothing to remove: dbguard hooks are not installed');
    return { exitCode: ExitCode.ok, json: { layout: result.layout, changed: result.changed } };
  }
  if (action === 'status') {
    const result = await hooksStatus(root);
    out.line(`hooks folder: ${result.layout.dir} (${result.layout.kind})`);
    for (const hook of result.hooks) out.line(`  ${hook.name.padEnd(14)} ${hook.installed ? out.c.green('installed') : out.c.yellow('not installed')}${hook.chained ? ', chained to the previous hook' : ''}`);
    const all = result.hooks.every((h) => h.installed);
    return { exitCode: all ? ExitCode.ok : ExitCode.actionNeeded, json: { layout: result.layout, hooks: result.hooks } };
  }
  throw new DbguardError('USAGE', `unknown hooks action "${action}"`, { hint: 'dbguard hooks install|uninstall|status' });
}
