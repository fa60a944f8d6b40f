/**
 * Whether a PID is alive: signal 0 asks the kernel and changes nothing, so it is a fact to decide on,
 * not I/O. Shared by the lock file and the embedded server.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
