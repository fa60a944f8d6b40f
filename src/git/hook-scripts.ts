/**
 * The text dbguard puts into git hooks. One template serves every layout; `hooks/` in the package holds
 * the same shims as files (a test keeps them equal), for people who install hooks by hand.
 */
export const HOOK_NAMES = ['post-checkout', 'post-merge', 'post-rewrite'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export const BLOCK_START = '# >>> dbguard >>>';
export const BLOCK_END = '# <<< dbguard <<<';
export const CHAIN_START = '# >>> dbguard chain >>>';
export const CHAIN_END = '# <<< dbguard chain <<<';
export const CHAINED_SUFFIX = '.pre-dbguard';

/** The managed block: finds the project's dbguard and runs its hook; never blocks or fails git. */
export function hookBlock(name: HookName): string {
  return [
    `${BLOCK_START} managed by \`dbguard hooks install\`; \`dbguard hooks uninstall\` removes it`,
    'dbguard_hook() {',
    '  dbguard_top=$(git rev-parse --show-toplevel 2>/dev/null) || return 0',
    '  if [ -x "$dbguard_top/node_modules/.bin/dbguard" ]; then',
    '    "$dbguard_top/node_modules/.bin/dbguard" hook "$@"',
    '  elif command -v npx >/dev/null 2>&1; then',
    '    (cd "$dbguard_top" && npx --no-install dbguard hook "$@")',
    '  fi',
    '}',
    `dbguard_hook ${name} "$@" || true`,
    BLOCK_END,
  ].join('\n');
}

/** Runs the hook that was there before us, keeping its exit status (git reports it). */
export function chainBlock(name: HookName): string {
  return [
    CHAIN_START,
    `if [ -x "$(dirname "$0")/${name}${CHAINED_SUFFIX}" ]; then exec "$(dirname "$0")/${name}${CHAINED_SUFFIX}" "$@"; fi`,
    CHAIN_END,
  ].join('\n');
}

export function standaloneHook(name: HookName): string {
  return `#!/bin/sh\n${hookBlock(name)}\n`;
}

export function chainedHook(name: HookName): string {
  return `#!/bin/sh\n${hookBlock(name)}\n${chainBlock(name)}\n`;
}

/** Removes dbguard's blocks from a script; returns what is left. */
export function withoutDbguardBlocks(text: string): string {
  const pattern = (start: string, end: string) => new RegExp(`${escape(start)}[\\s\\S]*?${escape(end)}\\n?`, 'g');
  return text.replace(pattern(BLOCK_START, BLOCK_END), '').replace(pattern(CHAIN_START, CHAIN_END), '');
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Inserts the block after a shebang line (if any), so dbguard runs before the rest of the script. */
export function withDbguardBlock(text: string, name: HookName): string {
  if (text.includes(BLOCK_START)) return text;
  const block = `${hookBlock(name)}\n`;
  if (text.startsWith('#!')) {
    const newline = text.indexOf('\n');
    return newline === -1 ? `${text}\n${block}` : `${text.slice(0, newline + 1)}${block}${text.slice(newline + 1)}`;
  }
  return `${block}${text}`;
}
