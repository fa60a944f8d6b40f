/** `dbguard lint --base <ref>`: CI's check of what this branch does to migrations (DESIGN §10). */
import { DbguardError, ExitCode, isDbguardError } from '../core/errors.js';
import type { MigrationFormat } from '../core/format.js';
import { lintMigrations, touchedByBranch, type LintFinding } from '../core/lint.js';
import { settingsFor, type CommandContext, type CommandResult } from './context.js';
import { belowTopRule, formatOf } from '../formats/index.js';

const WHY: Record<LintFinding['kind'], (f: LintFinding, format: MigrationFormat) => string> = {
  'below-base-top': (f, format) => `added below ${f.kind === 'below-base-top' ? f.baseTop : ''}, the highest version on the base: ${belowTopRule(format, 1, 'does')} wherever the base is applied; give it a new version`,
  edited: () => 'existed at the merge-base and is edited here: databases already ran the old text; add a new migration instead',
  deleted: () => 'existed at the merge-base and is deleted here: databases still have it applied; add a new migration that undoes it instead',
  invalid: (f) => (f.kind === 'invalid' ? f.reason : ''),
};

/** Each added or edited file's markers, read from HEAD as its tool would: what migrate would refuse. */
async function markerFindings(format: MigrationFormat, git: Parameters<GitApi['showFile']>[0], api: GitApi, dir: string, files: readonly string[]): Promise<LintFinding[]> {
  const findings: LintFinding[] = [];
  const texts = await api.showFiles(git, files.map((file) => ({ rev: 'HEAD', path: `${dir}/${file}` })));
  for (const file of files) {
    const text = texts.get(api.atRevision('HEAD', `${dir}/${file}`)) ?? null;
    const parsed = format.parseFileName(file);
    // One dbguard cannot run (a goose Go migration) has no markers to read: its tool compiles it (§18).
    if (text === null || parsed === null || parsed.runnable === false) continue;
    const { version } = parsed;
    try {
      for (const direction of ['up', 'down'] as const) format.sectionOf(text, direction, file, process.env);
    } catch (error) {
      if (!isDbguardError(error)) throw error;
      findings.push({ kind: 'invalid', file, version, reason: `${error.message.replace(`${file} `, '')}; ${error.hint ?? ''}`.replace(/; $/, '') });
    }
  }
  return findings;
}

type GitApi = typeof import('../git/repo.js');

export async function lintCommand(ctx: CommandContext, options: { base?: string }): Promise<CommandResult> {
  if (!options.base || typeof options.base !== 'string') {
    throw new DbguardError('USAGE', 'lint needs the branch it will be merged into', { hint: 'dbguard lint --base origin/main' });
  }
  const settings = settingsFor(ctx);
  const api = await import('../git/repo.js');
  const { openRepo, isInsideRepo, mergeBase, treeBlobs } = api;
  const git = openRepo(settings.root);
  if (!(await isInsideRepo(git))) throw new DbguardError('NOT_A_GIT_REPO', `${settings.root} is not a git repository`, { hint: 'run dbguard lint inside the repository' });
  const base = await mergeBase(git, options.base, 'HEAD');
  const dir = settings.migrationsDir;
  const [atBase, atRef, atHead] = await Promise.all([treeBlobs(git, base, dir), treeBlobs(git, options.base, dir), treeBlobs(git, 'HEAD', dir)]);
  const format = formatOf(settings);
  // Versions from an index (Drizzle's journal): each tree's own.
  const { index } = format;
  const formatAt = async (rev: string): Promise<MigrationFormat> => {
    const text = index === undefined ? null : await api.showFile(git, rev, `${dir}/${index.file}`);
    return index === undefined ? format : index.bind(() => (text === null ? new Map() : index.read(text)));
  };
  const trees = { mergeBase: atBase, ref: atRef, head: atHead, format, ...(index === undefined ? {} : { formatAt: { ref: await formatAt(options.base), mergeBase: await formatAt(base) } }) };
  const findings = [...lintMigrations(trees), ...(await markerFindings(format, git, api, dir, touchedByBranch(trees)))];
  const { out } = ctx;
  if (findings.length === 0) out.line(`${out.c.green('ok')}: no migration of this branch sits below ${options.base}'s, none that existed at the merge-base is edited or deleted, and every one it adds reads as ${format.name} reads it`);
  for (const finding of findings) out.line(`${out.c.yellow(finding.kind)}  ${dir}/${finding.file}: ${WHY[finding.kind](finding, format)}`);
  return {
    exitCode: findings.length ? ExitCode.actionNeeded : ExitCode.ok,
    json: { base: options.base, mergeBase: base, findings: findings.map((f) => ({ ...f, file: `${dir}/${f.file}` })) },
  };
}
