/**
 * The hook's part in branch databases (DESIGN §17), light on its clean path: git's HEAD and reflog and
 * two small state files are read; pg and the engine load only for a switch (or one left unfinished).
 */
import { branchCheckout, branchOfHead, formerNames as formerNamesOf } from '../core/branch-switch.js';
import type { Settings } from '../core/settings.js';
import { databaseMayExist, databaseRef } from '../engine/identity.js';
import { markBranchDatabases, readBranchOwner, readPendingSwitch, writeBranchOwner } from '../fs/branch-state.js';
import { bisectInProgress, branchReflog, headText, lastHeadReflog, type GitLocation } from '../fs/git-dir.js';
import type { HookIo } from './hook-io.js';

/** A post-checkout with branch databases on: switches the worktree's database to the checked-out branch's. */
export async function branchDatabaseOnCheckout(settings: Settings, args: readonly string[], git: GitLocation, io: HookIo): Promise<void> {
  markBranchDatabases(git.gitDir, settings.branchDatabases.enabled);
  if (!settings.branchDatabases.enabled || bisectInProgress(git.gitDir)) return;
  const ref = databaseRef(settings);
  const { database } = ref;
  const deadline = Date.now() + settings.timeouts.hookMs;
  let owner = readBranchOwner(ref.paths.cacheFile, database);
  if (readPendingSwitch(ref.paths.cacheFile) !== null && databaseMayExist(ref)) {
    const { settlePendingSwitch } = await import('./hook-actions.js');
    owner = await settlePendingSwitch(settings, deadline) ?? owner;
  }
  const head = headText(git.gitDir);
  const change = branchCheckout(args, head, lastHeadReflog(git.gitDir), owner?.branch ?? null);
  if (change === null || !databaseMayExist(ref)) {
    // The database is the branch's it was made on: remembered, so a detached HEAD in between does not lose track.
    const branch = branchOfHead(head);
    if (owner === null && branch !== null && args[2] === '1') writeBranchOwner(ref.paths.cacheFile, { database, branch, switchedAt: null });
    return;
  }
  const { switchBranchDatabase } = await import('./hook-actions.js');
  const pause = Number(io.env.DBGUARD_TEST_PAUSE_BETWEEN_RENAMES ?? '');
  const formerNames = formerNamesOf(branchReflog(git.gitDir, change.to), change.to);
  await switchBranchDatabase(settings, { change, worktree: git.worktree, prev: args[0] as string, deadline, formerNames, ...(pause > 0 ? { pauseMs: pause } : {}) }, (line) => io.err(line));
}
