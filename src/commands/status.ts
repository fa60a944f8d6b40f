/** `dbguard status`: one screen with the database, the cache, the phantoms, the plan and the next command. */
import { isDbguardError, ExitCode } from '../core/errors.js';
import { invalidPending } from '../fs/migration-files.js';
import { findPhantomMigrations } from '../core/compare.js';
import { assertCacheBelongsTo, uncapturedVersions, type MigrationCache, type WithoutDown } from '../core/cache.js';
import { formatConnectionUrl } from '../core/connection.js';
import { embeddedServerFor } from '../engine/embedded.js';
import { databaseMayExist, databaseRef } from '../engine/identity.js';
import { notMadeStatus } from './worktree.js';
import { buildRollbackPlan, type DatabaseState } from '../engine/rollback.js';
import { recoverCache } from '../engine/capture.js';
import { compareWithRecord } from '../engine/schema-check.js';
import { listStash } from '../db/stash-restore.js';
import { byHand, comesBackByItself, type StashEntry } from '../core/stash.js';
import { holdsApplied, pendingMigrations } from '../core/plan.js';
import { assertCatalogUsable } from '../core/catalog.js';
import { hashFiles } from '../fs/file-hash.js';
import { embeddedNotCreated, withSession } from '../engine/session.js';
import { absoluteMigrationsDir } from '../fs/config.js';
import { readDiskState } from '../fs/migrations-dir.js';
import { readCacheFile } from '../fs/state.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import { describeWithoutDown, editedChoices, keptJson, nextCommand, ORIGIN_LABEL, planJson, printPlan, UNCAPTURED_ADVICE, withoutDownJson } from './plan-view.js';
import type { Output } from '../ui/output.js';
import { formatAge, formatBytes, listVersions } from '../core/text.js';
import { undoTarget } from '../core/snapshot.js';
import { changedWithoutSnapshotAt, listSnapshots } from '../engine/snapshot.js';
import { prunableSummary } from '../engine/kept-databases.js';
import { belowTopRule, formatOf } from '../formats/index.js';
import { branchOfHead } from '../core/branch-switch.js';
import type { Settings } from '../core/settings.js';
import { readBranchOwner } from '../fs/branch-state.js';
import { findGitLocation, headText } from '../fs/git-dir.js';

export async function statusCommand(ctx: CommandContext, options: { offline?: boolean }): Promise<CommandResult> {
  const settings = settingsFor(ctx);
  const ref = databaseRef(settings);
  const { out } = ctx;
  const { c } = out;
  const dir = absoluteMigrationsDir(settings);
  // The settings' format; a session may learn it from the tracking table instead (nothing named one, §15).
  let format = formatOf(settings);
  const disk = readDiskState(dir, format);

  let cache: MigrationCache | null;
  let cacheProblem: { code: string; message: string } | null = null;
  try {
    cache = readCacheFile(ref.paths.cacheFile, format);
    if (cache) assertCacheBelongsTo(cache, ref.identity);
  } catch (error) {
    if (!isDbguardError(error)) throw error;
    cacheProblem = { code: error.code, message: error.message };
    cache = null;
  }
  const comparison = findPhantomMigrations(cache, disk);

  let server: { kind: string; running: boolean | null; where: string };
  if (ref.kind === 'embedded' && settings.database.kind === 'embedded') {
    const embedded = embeddedServerFor(settings);
    const running = embedded.isInitialised() ? embedded.running() : null;
    server = { kind: 'embedded', running: running !== null, where: running ? `127.0.0.1:${running.port}/${settings.database.database}` : embedded.isInitialised() ? 'stopped' : 'not created yet' };
  } else {
    server = { kind: 'external', running: null, where: formatConnectionUrl(ref.target!) };
  }

  out.line(c.bold(`dbguard status  ${c.dim(settings.root)}`));
  out.line(`  database     ${server.kind}, ${server.where}`);
  const unswitched = unfinishedSwitch(settings);
  if (unswitched) out.line(`  branch db    ${c.yellow(`this database is ${unswitched.owner}'s, not ${unswitched.branch}'s: the switch did not finish`)} ${c.dim(`(git checkout ${unswitched.branch} again switches it)`)}`);
  const cacheLine = cacheProblem
    ? c.red(`${cacheProblem.code}: ${cacheProblem.message}`)
    : cache === null ? 'none yet (first run)' : `${cache.migrations.size} applied${uncapturedVersions(cache).length ? c.yellow(`, ${uncapturedVersions(cache).length} without down SQL`) : ', all down SQL captured'}`;
  // A missing cache that the database will rebuild is said once, when it is (below).
  const rebuilds = cache === null && cacheProblem === null && !options.offline && !embeddedNotCreated(settings);
  if (!rebuilds) out.line(`  cache        ${cacheLine}`);
  out.line(`  migrations   ${settings.migrationsDir}/  ${disk.catalog.migrations.length} on disk`);

  const json: Record<string, unknown> = {
    root: settings.root, database: server, cache: cacheProblem ?? (cache === null ? null : { applied: cache.migrations.size, withoutDownSql: uncapturedVersions(cache) }),
    migrationsDir: settings.migrationsDir, onDisk: disk.catalog.migrations.length,
    conflicts: comparison.conflicts, pending: comparison.pending.map((m) => ({ version: m.version, filename: m.up })),
  };
  // §17: a linked worktree whose own database is not made yet: what it will be, and what makes it.
  if (ref.worktree !== null && !databaseMayExist(ref)) return notMadeStatus(out, ref.worktree, json);
  // Offline, or nothing to ask yet (a read-only command never creates the embedded cluster): the cache's answer.
  if (options.offline || embeddedNotCreated(settings)) {
    const by = options.offline ? 'by the cache' : 'no database yet';
    out.line(`  phantoms     ${comparison.conflicts.length ? listVersions(comparison.conflicts.map((x) => x.version)) : `none (${by})`}`);
    if (comparison.pending.length) out.line(`  pending      ${listVersions(comparison.pending.map((m) => m.version))} ${c.dim(`(${by})`)}`);
    const next = comparison.conflicts.length ? (options.offline ? 'dbguard status   (without --offline, for the plan)' : 'dbguard check')
      : comparison.pending.length ? 'dbguard migrate   (or your own migrator, then dbguard capture)' : null;
    out.line(`  next         ${next ?? 'nothing to do'}`);
    return { exitCode: comparison.conflicts.length || cacheProblem ? ExitCode.actionNeeded : ExitCode.ok, json: { ...json, plan: null, next } };
  }

  const planned = await withSession(settings, { destructive: false }, async (session) => {
    format = session.format;
    assertCatalogUsable(disk.catalog, settings.migrationsDir);
    // §2: a lost cache is rebuilt by any command that reaches the database, status included. First, so
    // what the rest reports (captured or not) is what the database holds after it.
    const rebuilt = cache === null && cacheProblem === null ? await recoverCache(session, settings, disk) : null;
    const result = await buildRollbackPlan(session, settings);
    const schema = await compareWithRecord(session.client, session.format, result.state.current?.version ?? null);
    // §17: removed worktrees and deleted branches run no hook; status is where their databases are told (a failure here is not status's).
    const removable = await prunableSummary(session, settings).catch(() => null);
    return { ...result, rebuilt, schema, stash: await listStash(session.client), snapshots: await listSnapshots(session), unsnapshotted: changedWithoutSnapshotAt(session), removable };
  });
  const { plan, state, candidates, downSql, rebuilt, schema, stash, snapshots } = planned;
  if (rebuilt) out.line(`  cache        ${rebuilt.migrations.size === 0 ? 'none yet (first run)' : `${c.yellow('was missing: rebuilt from the database')} (${rebuilt.migrations.size} applied)`}`);
  const current = state.current;
  // Counted from the applied set the plan read, as check and migrate count it (§3, §10).
  const pending = pendingMigrations(planned.applied);
  const edited = await editedSinceApplied(dir, state);
  const fileOf = (version: bigint) => ({ version, filename: state.disk.catalog.byVersion.get(version)?.up ?? null });
  const versionNote = current?.applied ? c.dim(` (newest of ${current.applied.size} applied)`) : current?.dirty ? c.red(' (dirty)') : c.dim(' (clean)');
  out.line(`  version      ${current === null ? 'nothing applied' : `${current.version}${versionNote}`}`);
  if (candidates.length === 0) out.line('  phantoms     none');
  else {
    out.line(`  phantoms     ${candidates.length} applied migration${candidates.length === 1 ? '' : 's'} not on this branch:`);
    for (const cand of candidates) {
      const found = downSql.get(cand.version);
      out.line(`    ${cand.version}  ${cand.filename ?? c.dim('(file name unknown)')}  ${found ? c.dim(`down SQL from ${ORIGIN_LABEL[found.origin]}`) : c.red('no down SQL found')}`);
    }
  }
  const lacking = withoutDownOnDisk(state, new Set(candidates.map((cand) => cand.version)));
  printWithoutDown(out, lacking);
  if (pending.ahead.length) out.line(`  pending      ${listVersions(pending.ahead)}`);
  if (pending.outOfOrder.length) out.line(`  out of order ${c.yellow(listVersions(pending.outOfOrder))}  ${c.dim(`(below the applied top: ${belowTopRule(format, 2)}; ${format.outOfOrder === 'refused' ? 'dbguard migrate --replay applies all in order' : 'dbguard migrate applies them'})`)}`);
  if (pending.uncaptured.length) out.line(`  uncaptured   ${listVersions(pending.uncaptured)}  ${c.dim(`(${UNCAPTURED_ADVICE})`)}`);
  // What migrate would refuse, said here: a pending file whose markers its tool would misread.
  const invalid = invalidPending(format, dir, state.disk.catalog, [...pending.ahead, ...pending.outOfOrder]);
  for (const error of invalid) out.line(`  invalid      ${c.red(error.message)}`);
  // §18: migrate stops before a pending migration only its tool runs; the tool goes on.
  const stop = pending.ahead.map((v) => state.disk.catalog.byVersion.get(v)).find((m) => m !== undefined && !m.runnable);
  const runs = format.notRunnable;
  const byTool = stop && runs ? `${runs.runWith}, then dbguard capture` : null;
  if (stop && runs) out.line(`  not runnable ${stop.version}  ${stop.up}  ${c.yellow(`${runs.what}: dbguard migrate applies what comes before it and stops there`)}`);
  const storedDown = new Set(state.tracked.filter((row) => row.hasDownSql && !row.noDown).map((row) => row.version));
  const choices = edited.length ? editedChoices(edited.map((e) => e.version), edited.filter((e) => !storedDown.has(e.version)).map((e) => e.version)) : null;
  const toolWords = format.editedWords;
  if (toolWords) {
    for (const e of edited) out.line(`  edited       ${c.yellow(toolWords(e.filename).words)} ${c.dim(toolWords(e.filename).fix)}`);
  } else if (choices) {
    out.line(`  edited       ${c.yellow(edited.map((e) => e.filename).join(', '))} ${c.dim(`changed since applied: ${choices.brief}`)}`);
  }
  const { fates: stashFates, renumbered } = await stashFatesOf(dir, state, stash);
  if (stash.length > 0) {
    const coming = stash.filter((e) => stashFates.get(e.id) === null);
    const waitingFor = (e: StashEntry) => {
      const now = renumbered.get(e.id);
      return now === undefined ? e.version.toString() : `${now} (${e.version} renumbered)`;
    };
    const waiting = [...new Set(coming.map(waitingFor))];
    if (coming.length > 0) out.line(`  stash        ${coming.length} kept (${formatBytes(coming.reduce((sum, e) => sum + e.bytes, 0))}) for ${listVersions(waiting)}: back when applied again ${c.dim('(dbguard stash list)')}`);
    for (const e of stash.filter((x) => stashFates.get(x.id) !== null)) {
      out.line(`  stash        ${c.yellow(`${e.id} (${e.kind} ${e.table}${e.column ? `.${e.column}` : ''}, ${e.rows}) will not come back by itself: ${stashFates.get(e.id)}`)}`);
    }
  }
  const newest = undoTarget(snapshots);
  // After a rollback that took no snapshot, undo refuses (UNDO_STALE): say so, not "undo restores …".
  const undoable = newest && !(planned.unsnapshotted && planned.unsnapshotted > new Date(newest.createdAt)) ? newest : null;
  if (snapshots.length > 0) {
    out.line(`  snapshots    ${snapshots.length}${undoable ? `; dbguard undo restores ${undoable.name} (${formatAge(undoable.createdAt, new Date())}, at ${undoable.version ?? 'nothing applied'})` : ''} ${c.dim('(dbguard snapshot list)')}`);
  }
  if (planned.removable) out.line(`  databases    ${c.yellow(`${planned.removable.count} of removed worktrees or deleted branches (${formatBytes(planned.removable.bytes)})`)}: dbguard db prune --dry-run`);
  out.line(`  schema       ${schema === null ? c.dim('no record for this version yet') : schema.state === 'drift' ? c.yellow(schema.message) : schema.message}`);
  printPlan(out, plan, format, false);
  const anyPending = pending.ahead.length + pending.outOfOrder.length > 0;
  const toolFirst = byTool !== null && stop?.version === pending.ahead[0] && pending.outOfOrder.length === 0;
  const next = nextCommand(plan) ?? (invalid[0] ? invalid[0].hint ?? null : toolFirst ? byTool : anyPending ? (pending.outOfOrder.length > 0 && format.outOfOrder === 'skipped' ? `dbguard migrate   (${listVersions(pending.outOfOrder)} below the applied top: ${belowTopRule(format, pending.outOfOrder.length)}, so your own migrator would not apply ${pending.outOfOrder.length === 1 ? 'it' : 'them'})`
      // A tool that refuses one below the top: so does plain migrate; --replay applies them all in order.
      : pending.outOfOrder.length > 0 && format.outOfOrder === 'refused' ? `dbguard migrate --replay   (${listVersions(pending.outOfOrder)} below the applied top: ${belowTopRule(format, pending.outOfOrder.length)}; --replay rolls back the ones above it and applies all in order)`
        : 'dbguard migrate   (or your own migrator, then dbguard capture)')
    : pending.uncaptured.length ? `dbguard capture   (records the down SQL of ${listVersions(pending.uncaptured)})` : choices ? (toolWords && edited[0] ? toolWords(edited[0].filename).fix : choices.next) : null);
  out.line(`  next         ${next ? c.bold(next) : 'nothing to do'}`);
  const exitCode = plan.kind === 'refuse' ? ExitCode.unsafe : plan.kind === 'rollback' || edited.length > 0 || invalid.length > 0 ? ExitCode.actionNeeded : ExitCode.ok;
  return {
    exitCode,
    json: {
      ...json,
      pending: pending.ahead.map(fileOf), outOfOrder: pending.outOfOrder.map(fileOf), appliedUncaptured: pending.uncaptured.map(fileOf), edited,
      invalid: invalid.map((e) => ({ code: e.code, message: e.message, hint: e.hint ?? null })),
      withoutDownSql: lacking.map(withoutDownJson),
      notRunnable: stop ? { version: stop.version, filename: stop.up ?? null } : null,
      cacheRebuilt: rebuilt !== null,
      snapshots: snapshots.map((sn) => ({ name: sn.name, reason: sn.reason, version: sn.version, createdAt: sn.createdAt, bytes: sn.bytes })),
      undo: undoable?.name ?? null,
      removableDatabases: planned.removable,
      stash: stash.map((e) => ({ ...keptJson(e), willNotComeBack: stashFates.get(e.id) ?? null })),
      schema: schema ? { state: schema.state, message: schema.message, diff: schema.diff ?? null } : null,
      schemaMigrations: current && { version: current.version, dirty: current.dirty, ...(current.applied ? { applied: [...current.applied.keys()].sort((a, b) => (a < b ? -1 : 1)) } : {}) },
      phantoms: candidates.map((cand) => ({ version: cand.version, filename: cand.filename ?? null, downSqlSource: downSql.get(cand.version)?.origin ?? null })),
      plan: planJson(plan),
      next,
    },
  };
}

/**
 * §13, issue 18.10: whether each stash entry can come back by itself, and if not, why — it is restored
 * when its migration is applied again with the same up file (sha256), and one a restore left is tried
 * again then. null: it will come back.
 */
async function stashFatesOf(dir: string, state: DatabaseState, stash: readonly StashEntry[]): Promise<{ fates: Map<number, string | null>; renumbered: Map<number, bigint> }> {
  const fates = new Map<number, string | null>();
  const renumbered = new Map<number, bigint>();
  if (stash.length === 0) return { fates, renumbered };
  const applied = new Map(state.tracked.map((row) => [row.version, row.upSha256 ?? null]));
  const readable = (f: string | undefined): f is string => f !== undefined && !state.disk.unreadable.has(f);
  const hashes = await hashFiles(dir, stash.map((e) => state.disk.catalog.byVersion.get(e.version)?.up).filter(readable));
  const diskShaOf = (entry: StashEntry) => {
    const up = state.disk.catalog.byVersion.get(entry.version)?.up;
    return up === undefined ? undefined : hashes.get(up);
  };
  // An entry its own version's file no longer matches may be a renumbered migration's (issue 25.11): then every up file is hashed.
  const unmatched = (e: StashEntry) => e.upSha256 !== null && diskShaOf(e) !== e.upSha256 && applied.get(e.version) !== e.upSha256;
  const others = stash.some(unmatched) ? await hashFiles(dir, state.disk.catalog.migrations.map((m) => m.up).filter(readable)) : new Map<string, string>();
  const versionOfUp = new Map(state.disk.catalog.migrations.filter((m) => m.up !== undefined && others.has(m.up)).map((m) => [others.get(m.up as string), m.version]));
  for (const entry of stash) {
    const diskSha = diskShaOf(entry);
    const now = `dbguard stash restore ${entry.id} puts back what fits now`;
    const movedTo = unmatched(entry) ? versionOfUp.get(entry.upSha256 as string) : undefined;
    if (movedTo !== undefined) renumbered.set(entry.id, movedTo);
    if (!comesBackByItself(entry)) fates.set(entry.id, `there was no primary key to match its rows by, so no restore can put these values back: ${byHand(entry.id)}`);
    else if (movedTo !== undefined) {
      // Applied under its new version already (before dbguard knew renumbering): only a restore by hand brings it.
      fates.set(entry.id, applied.get(movedTo) === entry.upSha256 ? `${entry.version} was renumbered ${movedTo} (the same up file), which is applied already: ${now}` : null);
    }
    else if (entry.note && applied.has(entry.version)) fates.set(entry.id, `a restore left it (${entry.note}); ${now}, or by hand: ${byHand(entry.id)}`);
    else if (entry.upSha256 === null) fates.set(entry.id, `it was kept without the up file's hash, so no apply can be matched to it; ${now}`);
    else if (applied.has(entry.version) && applied.get(entry.version) !== entry.upSha256) fates.set(entry.id, `${entry.version} is applied again, from an up file that differs from the one it was kept for; ${now}`);
    else if (diskSha !== undefined && diskSha !== entry.upSha256) fates.set(entry.id, `the up file of ${entry.version} on disk differs from the one it was kept for (edited since)`);
    else fates.set(entry.id, null);
  }
  return { fates, renumbered };
}

/** Applied up files on disk under the same name whose content differs from what was applied (§2). */
async function editedSinceApplied(dir: string, state: DatabaseState): Promise<Array<{ version: bigint; filename: string }>> {
  // The tool's own checksum (Prisma's) says what was applied, whatever dbguard saw; else dbguard's record.
  const { catalog } = state.disk;
  const toolSays = [...state.current?.checksums ?? []].flatMap(([version, upSha256]) => {
    const filename = catalog.byVersion.get(version)?.up;
    const id = state.current?.applied?.get(version);
    return filename !== undefined && (id === null || id === undefined || catalog.format.idMatches(id, filename)) ? [{ version, filename, upSha256 }] : [];
  });
  const told = new Set(toolSays.map((row) => row.version));
  const same = [...toolSays, ...state.tracked.filter((row) => !told.has(row.version) && row.upSha256 && catalog.byVersion.get(row.version)?.up === row.filename)]
    .filter((row) => !state.disk.unreadable.has(row.filename));
  const hashes = await hashFiles(dir, same.map((row) => row.filename));
  return same.filter((row) => hashes.has(row.filename) && hashes.get(row.filename) !== row.upSha256).map((row) => ({ version: row.version, filename: row.filename }));
}

/** Applied migrations on disk without down SQL to run, as captured (phantoms are listed with the plan). */
function withoutDownOnDisk(state: DatabaseState, phantoms: ReadonlySet<bigint>): WithoutDown[] {
  return state.tracked.filter((row) => holdsApplied(state.disk.catalog.format, state.current, row.version) && !phantoms.has(row.version) && (!row.hasDownSql || row.noDown))
    .map((row) => ({ version: row.version, filename: row.filename, noDown: row.noDown ?? null }));
}

const LISTED = 8;

/** §18: each one whose down SQL is missing, with why; blank downs by kind, in one line each. */
function printWithoutDown(out: Output, lacking: readonly WithoutDown[]): void {
  const missing = lacking.filter((w) => (w.noDown?.kind ?? 'missing') === 'missing');
  for (const w of missing.slice(0, LISTED)) out.line(`  no down SQL  ${w.version}  ${w.filename}  ${out.c.yellow(w.noDown?.why ?? 'found nowhere')}`);
  if (missing.length > LISTED) out.line(`  no down SQL  … and ${missing.length - LISTED} more ${out.c.dim('(dbguard status --json lists them)')}`);
  for (const line of describeWithoutDown(lacking.filter((w) => w.noDown && w.noDown.kind !== 'missing'))) out.line(`  no down SQL  ${line}`);
}

/**
 * With branch databases (§17): the database still belongs to the branch left when a switch failed or
 * timed out, and the work done since went into it. null: it is this branch's (or nothing says otherwise).
 */
function unfinishedSwitch(settings: Settings): { owner: string; branch: string } | null {
  if (!settings.branchDatabases.enabled) return null;
  const git = findGitLocation(settings.root);
  const branch = git ? branchOfHead(headText(git.gitDir)) : null;
  const ref = databaseRef(settings);
  const owner = readBranchOwner(ref.paths.cacheFile, ref.database);
  return branch !== null && owner !== null && owner.branch !== branch ? { owner: owner.branch, branch } : null;
}
