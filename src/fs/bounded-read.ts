/**
 * Files a repository can hand us (the config, package.json, the cache) are read only when they are
 * regular files of a sane size: a link to /dev/zero or a FIFO would hang the hook, and git with it.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';

export class UnreadableFile extends Error {
  constructor(readonly code: 'ENOTREG' | 'EFBIG' | string, message: string) {
    super(message);
  }
}

/** The file's text; ENOENT and other open errors are thrown as node throws them. */
export function readBoundedText(path: string, maxBytes: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new UnreadableFile('ENOTREG', `${path} is not a regular file`);
    if (stats.size > maxBytes) throw new UnreadableFile('EFBIG', `${path} is ${stats.size} bytes, more than the ${maxBytes} read here`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
