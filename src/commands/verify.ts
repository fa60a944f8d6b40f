/** `dbguard verify`: every down restores the schema its up changed (DESIGN §11); for CI and authors. */
import { ExitCode } from '../core/errors.js';
import { verifyMigrations } from '../engine/verify.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

export async function verifyCommand(ctx: CommandContext): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const { out } = ctx;
  const started = performance.now();
  const result = await verifyMigrations(settings, out.progress());
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  for (const finding of result.findings) out.line(`${out.c.yellow(finding.kind)}  ${finding.filename}: ${finding.message}`);
  out.line(result.findings.length === 0
    ? `${out.c.green('ok')}: ${result.checked} migration${result.checked === 1 ? '' : 's'}, every down restores the schema (${seconds} s)`
    : `${result.findings.length} problem${result.findings.length === 1 ? '' : 's'} in ${result.checked} migrations (${seconds} s)`);
  return {
    exitCode: result.findings.length ? ExitCode.actionNeeded : ExitCode.ok,
    json: { checked: result.checked, findings: result.findings },
  };
}
