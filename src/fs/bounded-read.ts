/**
 * Files a repository can hand us (the config, package.json, the cache) are read only when they are
 * regular files of a sane size: a link to /dev/zero or a FIFO would hang the hook, and git with it.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

export class UnreadableFile extends Error {
  constructor(readonly code: 'ENOTREG' | 'EFBIG', message: string, readonly size: number) {
    super(message);
  }
}

/**
 * The file's bytes, opened without blocking (a FIFO answers at once) and read only as a regular file
 * of at most `maxBytes` (UnreadableFile otherwise); ENOENT and other open errors are thrown as node throws them.
 */
export function readBoundedBytes(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new UnreadableFile('ENOTREG', `${path} is not a regular file`, stats.size);
    if (stats.size > maxBytes) throw new UnreadableFile('EFBIG', `${path} is ${stats.size} bytes, more than the ${maxBytes} read here`, stats.size);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function readBoundedText(path: string, maxBytes: number): string {
  return readBoundedBytes(path, maxBytes).toString('utf8');
}

/** The first `maxBytes` of a regular file (opened without blocking); null for anything else. */
export function readHead(path: string, maxBytes: number): Buffer | null {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) return null;
    const buffer = Buffer.alloc(maxBytes);
    return buffer.subarray(0, readSync(fd, buffer, 0, maxBytes, 0));
  } finally {
    closeSync(fd);
  }
}
