/** Version lists in one line of text: a person reads the first few and the count, --json has them all. */
export function listVersions(versions: ReadonlyArray<bigint | string | number>, max = 8): string {
  if (versions.length <= max) return versions.map(String).join(', ');
  return `${versions.slice(0, max - 1).map(String).join(', ')}, … ${String(versions[versions.length - 1])} (${versions.length} in all)`;
}
