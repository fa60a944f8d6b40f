/** Version lists in one line of text: a person reads the first few and the count, --json has them all. */
export function listVersions(versions: ReadonlyArray<bigint | string | number>, max = 8): string {
  if (versions.length <= max) return versions.map(String).join(', ');
  return `${versions.slice(0, max - 1).map(String).join(', ')}, … ${String(versions[versions.length - 1])} (${versions.length} in all)`;
}

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** "3 min ago", "2 h ago", "5 d ago": how long since an ISO time, seen from `now`. */
export function formatAge(iso: string, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

/** SGR sequences (colors, bold, dim) as picocolors writes them: the only escapes dbguard itself prints. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const SGR = /\x1b\[[0-9;]*m/y;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/**
 * File names, branch names and database messages come from the repository and are not trusted: a name
 * holding `ESC ] 0 ; … BEL` or `ESC [ 2 J` would retitle or clear the terminal. Every control character
 * except newline and tab is shown as `\xNN`; `keepColors` lets our own SGR color sequences through.
 */
export function escapeControls(text: string, keepColors: boolean): string {
  if (!CONTROL.test(text)) return text;
  let result = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === '\x1b' && keepColors) {
      SGR.lastIndex = i;
      const match = SGR.exec(text);
      if (match) {
        result += match[0];
        i += match[0].length - 1;
        continue;
      }
    }
    result += CONTROL.test(char) ? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}` : char;
  }
  return result;
}

/** Arguments as a POSIX shell reads them back: a suggested command must run what it says. */
export function shellQuote(args: readonly string[]): string {
  return args.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`)).join(' ');
}

/**
 * Rows as an aligned text table, psql's way (` a | b`, a rule, NULL as empty): what `stash show` prints.
 * A newline or tab inside a value is shown as `\n` / `\t`, so every row stays one line.
 */
export function formatTable(columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | null>>): string[] {
  const cell = (value: string | null) => (value ?? '').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  const cells = rows.map((row) => row.map(cell));
  const widths = columns.map((name, i) => Math.max(name.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (values: readonly string[]) => ` ${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')}`.trimEnd();
  return [line(columns), widths.map((w) => '-'.repeat(w + 2)).join('+'), ...cells.map(line)];
}
