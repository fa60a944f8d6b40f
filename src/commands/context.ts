/** What every command receives: where to run, the environment, and how to talk to the person. */
import type { ExitCode } from '../core/errors.js';
import type { Settings } from '../core/settings.js';
import { markBranchDatabases } from '../fs/branch-state.js';
import { loadSettings } from '../fs/config.js';
import { findGitLocation } from '../fs/git-dir.js';
import type { Output } from '../ui/output.js';

export interface CommandContext {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly out: Output;
  /** Whether a person can answer a prompt (stdin and stdout are terminals, not --json). */
  readonly canPrompt: boolean;
}

export interface CommandResult {
  /** One of §9's codes; `dbguard run` passes the command's own exit code through. */
  readonly exitCode: ExitCode | number;
  /** The --json document (without "ok", which the edge adds from the exit code). */
  readonly json: Record<string, unknown>;
}

export function settingsFor(ctx: CommandContext): Settings {
  const settings = loadSettings(ctx.cwd, ctx.env);
  // §17: the shim learns that this worktree's branch checkouts all switch (also two branches on one commit).
  const git = findGitLocation(ctx.cwd);
  if (git) markBranchDatabases(git.gitDir, settings.branchDatabases.enabled);
  return settings;
}
