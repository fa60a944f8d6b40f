/**
 * One server per repository (DESIGN §17): where a checkout's embedded server lives, from what its git
 * files say (read by fs/server-location.ts). Pure path arithmetic.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';

export interface CheckoutPlace {
  /** The worktree's top folder, as found (where its `.git` is). */
  readonly worktree: string;
  /** Its real path: what a worktree database is named after and its comment names. */
  readonly worktreeRealPath: string;
  /** A linked worktree (`git worktree add`, or any worktree of a bare repository), not the main one. */
  readonly linked: boolean;
  /** The main worktree's top folder; null for a bare repository (it has none). */
  readonly mainWorktree: string | null;
  /** The repository's common git dir (`.git` of the main worktree, or the bare repository). */
  readonly commonDir: string;
}

/** The folder in a bare repository's git dir that holds its server (its worktrees have no main one to hold it). */
export const BARE_SERVER_FOLDER = 'dbguard';

export interface CheckoutServer {
  /** The repository server's state dir when it is not this checkout's own (absolute), else null. */
  readonly serverStateDir: string | null;
  /** This checkout's own state dir (cache, lock, env file) when it has a database of its own. */
  worktreeStateDir(database: string): string;
}

/**
 * A linked worktree uses the main worktree's state dir for the server, the same project folder inside it
 * (a monorepo's `services/api`); a bare repository's worktrees use a folder of its git dir. An absolute
 * state dir is already the same folder for every worktree: each worktree's own state goes in a
 * sub-folder named after its database, so caches never mix.
 */
export function checkoutServer(root: string, stateDir: string, checkout: CheckoutPlace | null, external: boolean): CheckoutServer {
  const own = { worktreeStateDir: () => stateDir };
  if (!checkout?.linked || external) return { serverStateDir: null, ...own };
  if (isAbsolute(stateDir)) return { serverStateDir: stateDir, worktreeStateDir: (database) => join(stateDir, 'worktrees', database) };
  const project = relative(checkout.worktree, root);
  const serverStateDir = checkout.mainWorktree === null
    ? join(checkout.commonDir, BARE_SERVER_FOLDER, project)
    : resolve(checkout.mainWorktree, project, stateDir);
  return { serverStateDir, ...own };
}
