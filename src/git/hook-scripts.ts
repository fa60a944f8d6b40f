/**
 * The text dbguard puts into git hooks. One template serves every layout; `hooks/` in the package holds
 * the same shims as files (a test keeps them equal), for people who install hooks by hand.
 */
import { BRANCH_DATABASES_FILE, FAST_PATH_FILE } from '../core/hook-check.js';

export const HOOK_NAMES = ['post-checkout', 'post-merge', 'post-rewrite'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export const BLOCK_START = '# >>> dbguard >>>';
export const BLOCK_END = '# <<< dbguard <<<';
export const CHAIN_START = '# >>> dbguard chain >>>';
export const CHAIN_END = '# <<< dbguard chain <<<';
export const CHAINED_SUFFIX = '.pre-dbguard';


/** Files in the git dir that say a stash of the work tree is waiting to be applied back (pull --autostash). */
const AUTOSTASH = '{ [ -f "$dbguard_dir/rebase-merge/autostash" ] || [ -f "$dbguard_dir/rebase-apply/autostash" ] || [ -f "$dbguard_dir/MERGE_AUTOSTASH" ]; }';

/**
 * A rebase is under way and has commits left to replay (its post-rewrite checks once at the end). A
 * rebase whose todo list is empty (a fast-forward, or every commit already upstream) rewrites nothing,
 * so no post-rewrite follows: its one checkout is the user's and is checked (fs/git-dir says the same).
 */
const REPLAYING = '{ [ -d "$dbguard_dir/rebase-apply" ] || { [ -d "$dbguard_dir/rebase-merge" ] && { [ ! -f "$dbguard_dir/rebase-merge/git-rebase-todo" ] || grep -q \'^[[:space:]]*[^#[:space:]]\' "$dbguard_dir/rebase-merge/git-rebase-todo"; }; }; }';

/**
 * The managed block (POSIX sh). In order: a rebase's own checkouts never act (post-rewrite checks once
 * at its end; a rebase with nothing to replay has no end hook, so its checkout acts); file checkouts and checkouts that keep HEAD do nothing; while an autostash holds the
 * work tree's changes (`pull --autostash`) the check waits in the background until git has applied it
 * back, so a stashed migration is not taken for a missing one. When the last check of every project was
 * clean, the migrations folder was not touched since (find -newer its marker) and git says the folder
 * and config did not change between the two revisions, it exits without starting node (DESIGN §7).
 * Otherwise it runs dbguard in each project folder `hooks install` recorded (a monorepo may hold
 * several) — the project's node_modules/.bin, the worktree root's, the absolute path recorded, PATH —
 * and never runs anything that could reach the network. It never blocks or fails git.
 */
export function hookBlock(name: HookName): string {
  const rewrite = name === 'post-rewrite';
  return [
    `${BLOCK_START} managed by \`dbguard hooks install\`; \`dbguard hooks uninstall\` removes it`,
    'dbguard_hook() {',
    '  dbguard_top= dbguard_dir=',
    '  { read -r dbguard_top; read -r dbguard_dir; } <<DBGUARD_EOF',
    '$(git rev-parse --show-toplevel --absolute-git-dir 2>/dev/null)',
    'DBGUARD_EOF',
    '  [ -n "$dbguard_dir" ] || return 0',
    `  if [ "$1" != post-rewrite ] && ${REPLAYING}; then return 0; fi`,
    '  dbguard_from= dbguard_to= dbguard_branches=',
    // With branch databases (§17) every branch checkout acts, also two branches on one commit and one
    // that changes no migration. Known from the marker any dbguard run leaves, or, before one ran since
    // the config was changed, from the environment or the config file itself.
    `  if [ "$1" = post-checkout ] && [ "$4" = 1 ] && { [ -f "$dbguard_dir/${BRANCH_DATABASES_FILE}" ] || [ "$DBGUARD_BRANCH_DATABASES" = true ] || [ "$DBGUARD_BRANCH_DATABASES" = 1 ] || grep -qs '"branchDatabases"' "$dbguard_top/dbguard.config.json" 2>/dev/null; }; then dbguard_branches=1; fi`,
    '  case "$1" in',
    '    post-checkout) { [ "$4" = 1 ] && { [ "$2" != "$3" ] || [ -n "$dbguard_branches" ]; }; } || return 0; dbguard_from=$2 dbguard_to=$3 ;;',
    '    post-merge) dbguard_from=ORIG_HEAD dbguard_to=HEAD ;;',
    '  esac',
    `  if [ -z "$DBGUARD_DEFERRED" ] && ${AUTOSTASH}; then`,
    '    (',
    '      DBGUARD_DEFERRED=1; export DBGUARD_DEFERRED; dbguard_wait=0',
    `      while ${AUTOSTASH}; do`,
    '        dbguard_wait=$((dbguard_wait + 1))',
    '        if [ "$dbguard_wait" -gt 100 ]; then echo "dbguard: the autostash was not applied back within 10 s; check skipped: dbguard check" >&2; exit 0; fi',
    '        sleep 0.1 2>/dev/null || sleep 1',
    '      done',
    '      dbguard_hook "$@"',
    '    ) </dev/null &',
    '    return 0',
    '  fi',
    `  if [ -n "$dbguard_from" ] && [ -z "$dbguard_branches" ] && [ -f "$dbguard_dir/${FAST_PATH_FILE}" ]; then`,
    '    dbguard_fast= dbguard_lines=0',
    '    while IFS=\'\t\' read -r dbguard_marker dbguard_watch dbguard_p1 dbguard_p2 dbguard_p3; do',
    '      dbguard_fast=1 dbguard_lines=$((dbguard_lines + 1)) dbguard_changed=',
    '      if [ -n "$dbguard_marker" ] && [ -f "$dbguard_marker" ] && [ -d "$dbguard_watch" ] && [ -n "$dbguard_p1" ] &&',
    '        [ -z "$(find "$dbguard_watch" -prune -newer "$dbguard_marker" -print 2>/dev/null || echo changed)" ] &&',
    '        dbguard_changed=$(git -C "$dbguard_top" -c core.quotePath=false diff --name-status --no-renames "$dbguard_from" "$dbguard_to" -- "$dbguard_p1" ${dbguard_p2:+"$dbguard_p2"} ${dbguard_p3:+"$dbguard_p3"} 2>/dev/null) &&',
    '        [ -z "$dbguard_changed" ]; then',
    '        continue',
    '      fi',
    '      dbguard_fast=; break',
    `    done < "$dbguard_dir/${FAST_PATH_FILE}"`,
    '    [ -z "$dbguard_fast" ] || return 0',
    // What git just said changed, handed to dbguard so it need not ask again (one project, a sane size).
    '    if [ "$dbguard_lines" = 1 ] && [ -n "$dbguard_changed" ] && [ "${#dbguard_changed}" -lt 65536 ]; then',
    '      DBGUARD_DIFF=$dbguard_changed DBGUARD_DIFF_FOR=$dbguard_p1; export DBGUARD_DIFF DBGUARD_DIFF_FOR',
    '    fi',
    '  fi',
    '  dbguard_projects= dbguard_bin= dbguard_node=',
    '  while read -r dbguard_key dbguard_value; do',
    '    case "$dbguard_key" in',
    '      dbguard.project) dbguard_projects="$dbguard_projects$dbguard_value',
    '" ;;',
    '      dbguard.bin) dbguard_bin=$dbguard_value ;;',
    '      dbguard.node) dbguard_node=$dbguard_value ;;',
    '    esac',
    '  done <<DBGUARD_EOF',
    "$(git config --get-regexp '^dbguard\\.' 2>/dev/null)",
    'DBGUARD_EOF',
    '  [ -n "$dbguard_projects" ] || dbguard_projects=.',
    '  while read -r dbguard_project; do',
    '    [ -n "$dbguard_project" ] || continue',
    '    dbguard_run "$dbguard_top/$dbguard_project" "$@" <&3',
    '  done 3<&0 <<DBGUARD_EOF',
    '$dbguard_projects',
    'DBGUARD_EOF',
    '}',
    'dbguard_run() {',
    '  dbguard_cwd=$1; shift',
    '  for dbguard_try in "$dbguard_cwd/node_modules/.bin/dbguard" "$dbguard_top/node_modules/.bin/dbguard"; do',
    // A node_modules that git tracks came with the branch being checked out: never run what it holds.
    '    if [ -x "$dbguard_try" ] && [ -z "$(git -C "$dbguard_top" ls-files -- "$dbguard_try" "${dbguard_try%/.bin/dbguard}/dbguard" 2>/dev/null)" ]; then',
    '      (cd "$dbguard_cwd" && "$dbguard_try" hook "$@"); return 0',
    '    fi',
    '  done',
    '  if [ -n "$dbguard_bin" ] && [ -f "$dbguard_bin" ]; then',
    '    [ -n "$dbguard_node" ] && [ -x "$dbguard_node" ] || dbguard_node=node',
    '    if command -v "$dbguard_node" >/dev/null 2>&1; then (cd "$dbguard_cwd" && "$dbguard_node" "$dbguard_bin" hook "$@"); return 0; fi',
    '  fi',
    '  if command -v dbguard >/dev/null 2>&1; then (cd "$dbguard_cwd" && dbguard hook "$@"); return 0; fi',
    '  echo "dbguard: not found, hook skipped: npm i -g dbguard" >&2',
    '}',
    ...(rewrite
      ? [
        // git passes "old new" lines on stdin; keep them for dbguard and for whatever runs after us.
        'DBGUARD_REWRITTEN=$(cat); export DBGUARD_REWRITTEN',
        `dbguard_hook ${name} "$@" || true`,
        'exec <<DBGUARD_EOF',
        '$DBGUARD_REWRITTEN',
        'DBGUARD_EOF',
      ]
      : [`dbguard_hook ${name} "$@" || true`]),
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

/**
 * The script with dbguard's block as this version writes it: an older dbguard's block is replaced where
 * it stands (the user's lines around it stay). A block whose end line is gone is left for uninstall to report.
 */
export function withCurrentBlock(text: string, name: HookName): string {
  return text.replace(new RegExp(`${escape(BLOCK_START)}[^\\n]*\\n[\\s\\S]*?${escape(BLOCK_END)}`), () => hookBlock(name));
}

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
