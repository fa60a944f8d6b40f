/** How a plan looks to a person and in --json; shared by status, rollback and the hook. */
import { keepsDirtyFlag, type MigrationFormat } from '../core/format.js';
import { reapplyCommand, type Plan } from '../core/plan.js';
import type { WithoutDown } from '../core/cache.js';
import type { NoDownKind } from '../core/no-down.js';
import { listVersions } from '../core/text.js';
import { byHand, comesBackByItself, qualifiedName, type StashEntry, type WouldDrop } from '../core/stash.js';
import type { Output } from '../ui/output.js';

/** Per step, the rows its down would drop (counted in a transaction that was rolled back), or why not counted. */
export type RowsDropped = ReadonlyMap<bigint, readonly WouldDrop[] | { error: string }>;

const countOf = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** "200 rows of public.orders, 25 values of public.users.nickname" */
export function describeKept(kept: readonly StashEntry[]): string {
  return kept.map((k) => `${countOf(k.rows, k.kind === 'table' ? 'row' : 'value')} of ${qualifiedName(k.schema, k.table, k.column)}`).join(', ');
}

/**
 * What a rollback kept, in lines: what comes back when its migration is applied again (`again` names
 * how), and, one line each, the values no restore can put back and the way to them (issue 25.7).
 */
export function describeKeptLines(kept: readonly StashEntry[], again: string): string[] {
  const back = kept.filter(comesBackByItself);
  const lines = back.length > 0 ? [`kept ${describeKept(back)} in the stash: back when these migrations are applied again (${again})`] : [];
  for (const k of kept.filter((e) => !comesBackByItself(e))) {
    lines.push(`kept ${describeKept([k])} in stash ${k.id}, but they will not come back by themselves (no primary key to match their rows by): ${byHand(k.id)}`);
  }
  return lines;
}

/** A kept entry in --json, as rollback and status report it. */
export const keptJson = (k: StashEntry) => ({ id: k.id, version: k.version, kind: k.kind, schema: k.schema, table: k.table, column: k.column, rows: k.rows, bytes: k.bytes });

export const describeDropped = (found: readonly WouldDrop[]) => found.map((f) => `${countOf(f.rows, f.object.startsWith('column') ? 'value' : 'row')} of ${f.object.replace(/^(table|column) /, '')}`).join(', ');

/** The plan's lines for what a step drops: what the stash keeps and gives back, and what it keeps that never comes back by itself. */
function describeDrops(out: Output, found: readonly WouldDrop[] | { error: string } | undefined): string[] {
  const { c } = out;
  if (found === undefined) return [];
  if ('error' in found) return [c.yellow('rows it would drop: not counted (its down cannot run in the counting transaction)')];
  const back = found.filter((f) => f.notBack === undefined);
  const lines = back.length > 0 ? [`${c.yellow(`drops ${describeDropped(back)}`)}${c.dim(' (kept in the stash, back on the next migrate)')}`] : [];
  for (const f of found.filter((x) => x.notBack !== undefined)) {
    lines.push(`${c.yellow(`drops ${describeDropped([f])} (kept in the stash, but they will not come back by themselves: ${f.notBack})`)}${c.dim('; after the rollback, dbguard stash show <id> shows them and dbguard stash export <id> copies them into a table of their own')}`);
  }
  return lines;
}

export const ORIGIN_LABEL = { 'tracking-table': '_dbguard (stored when applied)', 'previous-tree': 'previous branch', 'git-history': 'git history', 'working-tree': 'working tree' } as const;

export function planJson(plan: Plan, drops?: RowsDropped): Record<string, unknown> {
  if (plan.kind === 'rollback') {
    return {
      kind: plan.kind, from: plan.from, to: plan.to,
      steps: plan.steps.map((s) => ({
        version: s.version, filename: s.filename, kind: s.kind, after: s.after, transactional: s.transactional, outOfOrder: s.outOfOrder,
        ...(drops ? { wouldDrop: drops.get(s.version) ?? [] } : {}),
        downSqlSource: s.origin, ref: s.ref ?? null, note: s.note ?? null, downSql: s.downSql,
        fallback: s.fallback?.map((f) => ({ kind: f.kind, version: f.version, after: f.after })) ?? null,
      })),
    };
  }
  return { ...plan };
}

export function nextCommand(plan: Plan): string | null {
  if (plan.kind === 'rollback') return 'dbguard rollback';
  if (plan.kind === 'refuse') return plan.fix;
  return null;
}

export function printPlan(out: Output, plan: Plan, format: MigrationFormat, withSteps = true, drops?: RowsDropped): void {
  const { c } = out;
  if (plan.kind === 'clean') {
    out.line(`  plan         ${c.green('nothing to roll back')}`);
    return;
  }
  if (plan.kind === 'refuse') {
    out.line(`  plan         ${c.red(`refused (${plan.reason})`)}: ${plan.message}`);
    return;
  }
  out.line(`  plan         roll back ${plan.steps.length} migration${plan.steps.length === 1 ? '' : 's'}, ${plan.from} → ${plan.to ?? 'nothing applied'}`);
  if (!withSteps) return;
  for (const step of plan.steps) {
    const how = step.transactional ? '' : c.yellow(`  (outside a transaction${keepsDirtyFlag(format) ? ': dirty marker' : ''})`);
    const what = step.kind === 'noop' ? c.dim('no-op') : c.dim(`down SQL from ${ORIGIN_LABEL[step.origin]}`);
    const replayed = step.fallback?.filter((f) => f.kind === 'replay-up').map((f) => f.version) ?? [];
    const order = !step.outOfOrder ? '' : c.yellow(`  out of order: newer migrations on disk stay applied${replayed.length ? ` (if its down fails: ${replayed.join(', ')} rolled back first and re-applied after)` : ''}`);
    const note = step.note ? c.yellow(`  (${step.note})`) : '';
    out.line(`    ${step.version}  ${step.filename}  ${what}${note}${order}${how}`);
    for (const line of describeDrops(out, drops?.get(step.version))) out.line(`      ${line}`);
    // §13: outside a transaction there is no savepoint to look from, so nothing of what it drops is kept.
    if (!step.transactional && step.kind !== 'noop') out.line(`      ${c.yellow('rows it drops are NOT kept (its down runs outside a transaction); dbguard undo, from the snapshot taken first, is the way back')}`);
  }
}

/** §14: the one line said when a connected app kept a rollback from taking its snapshot. */
export function snapshotSkippedLine(sessions: readonly string[], how: string): string {
  return `no snapshot (other sessions use the database: ${sessions.join(', ')}); the stash keeps every row the downs drop; ${how} ends them for a snapshot`;
}

/** §3: what the project's own migrator applied without capture is applied (not pending); status and check say so alike. */
export const UNCAPTURED_ADVICE = 'applied without dbguard seeing it: dbguard capture records their down SQL';

/**
 * §2's ways on for applied migrations edited since: apply the edit (the lowest one and everything
 * above it, rolled back with their stored down SQL first), or record that the database already has it.
 * `withoutStoredDown`: edited ones stored with no down SQL to run, which --reapply refuses
 * (NO_DOWN_SQL): then it is not offered. Said as one line (check, rollback), briefly (status), and as
 * status's next step.
 */
export function editedChoices(edited: readonly bigint[], withoutStoredDown: readonly bigint[] = []): { line: string; brief: string; next: string } {
  const accept = 'dbguard capture --accept-edits';
  const acceptWhen = 'if the database already matches the edited file';
  if (withoutStoredDown.length > 0) {
    const one = withoutStoredDown.length === 1;
    const advice = `${accept} ${acceptWhen} (--reapply cannot: no down SQL was stored for ${listVersions(withoutStoredDown)} when ${one ? 'it was' : 'they were'} applied); otherwise dbguard reset (keeps a snapshot), then dbguard migrate`;
    return { line: advice, brief: advice, next: advice };
  }
  const reapply = reapplyCommand(edited);
  const how = 'rolls back with the down SQL stored when applied, then applies the edited file';
  return {
    line: `${reapply}   (${how}), or, ${acceptWhen}: ${accept}`,
    brief: `${reapply} ${how}; ${accept} ${acceptWhen}`,
    next: `${reapply}   (${how}; or ${accept} ${acceptWhen})`,
  };
}

const HAS = (n: number) => (n === 1 ? 'has' : 'have');
const THEM = (n: number) => (n === 1 ? 'it' : 'them');

/** Versions grouped by why they lack down SQL, in first-seen order: "3, 4 (no down file); 9 (…)". */
function byWhy(list: readonly WithoutDown[]): Array<{ why: string | null; versions: bigint[] }> {
  const groups = new Map<string | null, bigint[]>();
  for (const w of list) groups.set(w.noDown?.why ?? null, [...(groups.get(w.noDown?.why ?? null) ?? []), w.version]);
  return [...groups].map(([why, versions]) => ({ why, versions }));
}

/**
 * What a rollback through migrations without down SQL to run would do, one line per kind (§18): the
 * counts say what they count, and the reason of each is said where it is known.
 */
export function describeWithoutDown(list: readonly WithoutDown[]): string[] {
  const of = (kind: NoDownKind) => list.filter((w) => (w.noDown?.kind ?? 'missing') === kind);
  const lines: string[] = [];
  const missing = of('missing');
  if (missing.length > 0) {
    const named = byWhy(missing).map((g) => `${listVersions(g.versions)}${g.why === null ? '' : ` (${g.why})`}`).join('; ');
    lines.push(`no down SQL for ${named}: a rollback through ${THEM(missing.length)} refuses (dbguard reset needs none)`);
  }
  for (const g of byWhy(of('irreversible'))) {
    lines.push(`${listVersions(g.versions)} ${HAS(g.versions.length)} ${g.why} and changed the schema: a rollback through ${THEM(g.versions.length)} refuses (IRREVERSIBLE)`);
  }
  for (const g of byWhy(of('noop'))) {
    lines.push(`${listVersions(g.versions)} ${HAS(g.versions.length)} ${g.why} and changed data only: a rollback records ${THEM(g.versions.length)} as gone, keeping the data`);
  }
  return lines;
}

/** One migration without down SQL in --json: its version, file, and why (kind null: not known). */
export const withoutDownJson = (w: WithoutDown) => ({ version: w.version, filename: w.filename, kind: w.noDown?.kind ?? null, why: w.noDown?.why ?? null });
