/** `dbguard force <version>`: clear the dirty flag after repairing a half-applied migration. */
import { ExitCode } from '../core/errors.js';
import { forceVersion, parseForceVersion } from '../engine/force.js';
import { withSession } from '../engine/session.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

export async function forceCommand(ctx: CommandContext, versionText: string): Promise<CommandResult> {
  const version = parseForceVersion(String(versionText));
  const settings = settingsFor(ctx);
  const result = await withSession(settings, { destructive: true, report: ctx.out.progress() }, (session) => forceVersion(session, settings, version));
  ctx.out.line(`database marked clean at ${result.to ?? 'nothing applied'} (was dirty at ${result.from}); cache lists ${result.capture.cache.migrations.size} applied`);
  return { exitCode: ExitCode.ok, json: { from: result.from, to: result.to, dirty: false } };
}
