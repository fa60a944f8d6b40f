/**
 * The renames that switch a worktree's database from one branch's to another's (DESIGN §17), on a
 * maintenance connection to their server. PostgreSQL renames databases inside a transaction block, so
 * both renames (and the comments that say what each database now is) commit together or not at all:
 * a kill between them leaves both databases under their old names. O(1) whatever their size.
 */
import { encodeKeptDatabaseComment, parseKeptDatabaseComment, type KeptDatabaseMeta } from '../core/kept-database.js';
import { encodeSnapshotComment } from '../core/snapshot.js';
import { quoteIdentifier, setDatabaseComment, type PgClient } from './client.js';
import { databaseComment } from './kept-databases.js';
import { listCopyDatabases } from './snapshot.js';

/** A saved branch database: whole (its comment says so), half made (a copy killed before its swap), or none. */
export type SavedState = { readonly kind: 'whole'; readonly meta: KeptDatabaseMeta } | { readonly kind: 'half' } | { readonly kind: 'none' };

export async function savedState(maintenance: PgClient, name: string): Promise<SavedState> {
  const comment = await databaseComment(maintenance, name);
  if (comment === undefined) return { kind: 'none' };
  const meta = parseKeptDatabaseComment(comment);
  return meta?.kind === 'branch' ? { kind: 'whole', meta } : { kind: 'half' };
}

export interface BranchSwap {
  /** The worktree's database: the name the app connects to. */
  readonly database: string;
  /** The saved name the leaving branch's database takes, and what its comment says. */
  readonly leavingAs: string;
  readonly leaving: KeptDatabaseMeta;
  /** The arriving branch's saved database, which takes the worktree's name. */
  readonly arriving: string;
  /** The branch arriving: a linked worktree's database comment says which branch it holds now. */
  readonly arrivingBranch: string;
}

/** The worktree database's comment for the database arriving: the same, naming the branch it now holds. */
function arrivingComment(worktreeComment: string | null, branch: string): string | null {
  const meta = parseKeptDatabaseComment(worktreeComment);
  return meta?.kind === 'worktree' ? encodeKeptDatabaseComment({ ...meta, branch }) : worktreeComment;
}

/**
 * One transaction: the worktree's database becomes `leavingAs`, `arriving` becomes the worktree's
 * database and takes its comment; snapshots follow the database they were taken of. `between` runs
 * between the two renames (a test pauses there to kill the run).
 */
export async function swapBranchDatabases(maintenance: PgClient, swap: BranchSwap, between: () => Promise<void> = async () => undefined): Promise<void> {
  const worktreeComment = arrivingComment(await databaseComment(maintenance, swap.database) ?? null, swap.arrivingBranch);
  const snapshots = (await listCopyDatabases(maintenance)).filter((c) => c.meta !== null && (c.meta.of === swap.database || c.meta.of === swap.arriving));
  try {
    await maintenance.query('BEGIN');
    await maintenance.query(`ALTER DATABASE ${quoteIdentifier(swap.database)} RENAME TO ${quoteIdentifier(swap.leavingAs)}`);
    await setDatabaseComment(maintenance, swap.leavingAs, encodeKeptDatabaseComment(swap.leaving));
    await between();
    await maintenance.query(`ALTER DATABASE ${quoteIdentifier(swap.arriving)} RENAME TO ${quoteIdentifier(swap.database)}`);
    await setDatabaseComment(maintenance, swap.database, worktreeComment);
    for (const snapshot of snapshots) {
      if (snapshot.meta === null) continue;
      const of = snapshot.meta.of === swap.database ? swap.leavingAs : swap.database;
      await setDatabaseComment(maintenance, snapshot.datname, encodeSnapshotComment({ ...snapshot.meta, of }));
    }
    await maintenance.query('COMMIT');
  } catch (error) {
    await maintenance.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
