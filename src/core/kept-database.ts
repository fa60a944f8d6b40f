/**
 * The databases dbguard keeps on a server besides snapshots (DESIGN §17): one per linked worktree, and,
 * with branch databases on, one saved per branch that is not checked out. Pure: their names and the
 * comment each carries, which makes the server the truth of what they are (like snapshots' comments).
 */
import { shortHash } from './state-layout.js';

/** PostgreSQL cuts identifiers at NAMEDATALEN - 1 bytes. */
export const MAX_DATABASE_NAME_BYTES = 63;

/** Comments on a kept database start with this; the rest is its KeptDatabaseMeta as JSON. */
export const KEPT_DATABASE_COMMENT_PREFIX = 'dbguard database ';

export type KeptDatabaseKind = 'worktree' | 'branch';

export interface KeptDatabaseMeta {
  /** `worktree`: the database a linked worktree works on; `branch`: a branch's database saved while another is checked out. */
  readonly kind: KeptDatabaseKind;
  /** The worktree's real path (a saved branch database: the worktree whose branch it was). */
  readonly worktree: string;
  /** The branch it belongs to, or null (a detached HEAD). */
  readonly branch: string | null;
  /** The database it was copied from, or null when made empty. */
  readonly source: string | null;
  /** When it was made (ISO 8601). */
  readonly createdAt: string;
}

export function encodeKeptDatabaseComment(meta: KeptDatabaseMeta): string {
  return KEPT_DATABASE_COMMENT_PREFIX + JSON.stringify(meta);
}

/** A kept database's metadata, or null for any other comment (a user's database, a snapshot, none). */
export function parseKeptDatabaseComment(comment: string | null): KeptDatabaseMeta | null {
  if (!comment?.startsWith(KEPT_DATABASE_COMMENT_PREFIX)) return null;
  try {
    const meta = JSON.parse(comment.slice(KEPT_DATABASE_COMMENT_PREFIX.length)) as Partial<KeptDatabaseMeta>;
    if ((meta.kind !== 'worktree' && meta.kind !== 'branch') || typeof meta.worktree !== 'string' || typeof meta.createdAt !== 'string') return null;
    return {
      kind: meta.kind, worktree: meta.worktree, createdAt: meta.createdAt,
      branch: typeof meta.branch === 'string' ? meta.branch : null,
      source: typeof meta.source === 'string' ? meta.source : null,
    };
  } catch {
    return null;
  }
}

/** Lowercase ASCII letters, digits and single underscores: safe unquoted, in any shell, in any URL. */
function slug(text: string): string {
  return text.normalize('NFKD').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

/**
 * `<prefix>_<slug>_<hash>`, cut to 63 bytes with the hash kept, so two different keys never share a
 * name however long or strange they are (spaces, quotes, `$(…)`, unicode: the slug keeps none of them).
 */
function keptName(prefix: string, readable: string, key: string): string {
  const hash = shortHash(key);
  const room = MAX_DATABASE_NAME_BYTES - prefix.length - hash.length - 2;
  const part = slug(readable).slice(0, room).replace(/_+$/, '');
  return part === '' ? `${prefix}_${hash}` : `${prefix}_${part}_${hash}`;
}

/** A linked worktree's database: named after its folder, unique by its real path. */
export function worktreeDatabaseName(mainDatabase: string, worktreePath: string): string {
  return keptName(`${slug(mainDatabase).slice(0, 16) || 'db'}_wt`, worktreePath.split(/[\\/]/).filter(Boolean).pop() ?? '', `${mainDatabase}\0${worktreePath}`);
}

/** A branch's database saved while another branch is checked out in the worktree whose database is `worktreeDatabase`. */
export function savedBranchDatabaseName(worktreeDatabase: string, branch: string): string {
  return keptName(`${slug(worktreeDatabase).slice(0, 16) || 'db'}_br`, branch, `${worktreeDatabase}\0${branch}`);
}
