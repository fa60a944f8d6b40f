/** `dbguard verify`: every down restores the schema its up changed (DESIGN §11); for CI and authors. */
import { ExitCode } from '../core/errors.js';
import { listVersions } from '../core/text.js';
import { verifyMigrations } from '../engine/verify.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';

export async function verifyCommand(ctx: CommandContext): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const { out } = ctx;
  const started = performance.now();
  const result = await verifyMigrations(settings, out.progress());
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  for (const s of result.skipped) out.line(`${out.c.dim('skipped')}  ${s.filename}: ${s.why} (its tool runs it)`);
  for (const finding of result.findings) out.line(`${out.c.yellow(finding.kind)}  ${finding.filename}: ${finding.message}`);
  // Counts count what they say: the migrations not checked are named, never counted as checked.
  const skipped = result.skipped.length;
  const notChecked = skipped === 0 ? '' : `; not checked: ${listVersions(result.skipped.map((s) => s.version))} (${result.skipped[0]?.why})`;
  const counted = skipped === 0 ? `${result.checked} migration${result.checked === 1 ? '' : 's'}` : `${result.checked} of ${result.checked + skipped} migrations checked`;
  out.line(result.findings.length === 0
    ? `${out.c.green('ok')}: ${counted}, ${result.upsOnly === undefined ? 'every down restores the schema' : `every up applies in order from empty (${result.upsOnly}: no round trip to check)`}${notChecked} (${seconds} s)`
    : `${result.findings.length} problem${result.findings.length === 1 ? '' : 's'} in ${result.checked} migrations${notChecked} (${seconds} s)`);
  return {
    exitCode: result.findings.length ? ExitCode.actionNeeded : ExitCode.ok,
    json: { checked: result.checked, findings: result.findings, skipped: result.skipped },
  };
}
