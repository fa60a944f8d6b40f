/**
 * Whether files in a directory can be cloned (reflink) rather than copied (§16). PostgreSQL 18's
 * `file_copy_method = clone` makes a database copy cost almost nothing there; on ext4, tmpfs or
 * overlay the kernel copies the bytes instead, slower than PostgreSQL's own copy (bench/snapshot-clone.ts:
 * 380 vs 220 ms for 298 MB on ext4), so it is used only where the filesystem can really clone.
 */
import { closeSync, constants, copyFileSync, mkdtempSync, openSync, rmSync, statfsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const XFS = 0x58465342;
const BTRFS = 0x9123683e;
/** Asked once per snapshot save or restore: a statfs, and on XFS one scratch clone (about a millisecond). */
export function filesCanBeCloned(dir: string): boolean {
  let type: number;
  try {
    type = statfsSync(dir).type;
  } catch {
    return false; // not on this machine (a remote server), or not ours to see
  }
  if (type !== XFS && type !== BTRFS) return false;
  // XFS can be made without reflink: clone a file to be sure, where we may write next to the directory.
  let scratch: string;
  try {
    if (statSync(dirname(dir)).dev !== statSync(dir).dev) throw new Error('another disk');
    scratch = mkdtempSync(join(dirname(dir), '.dbguard-clone-'));
  } catch {
    return true; // a server's own data dir, not writable by us (or a mount point): btrfs clones, and XFS has had reflink on by default since 2019
  }
  try {
    const source = join(scratch, 'a');
    closeSync(openSync(source, 'w'));
    copyFileSync(source, join(scratch, 'b'), constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
