/**
 * Argument parsing only: each command is defined here and wired to its handler in src/commands/, which
 * returns data; this edge prints it (or the error) once and turns it into the exit code.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { cac } from 'cac';
import pkg from '../package.json' with { type: 'json' };
import { DbguardError, ExitCode, isDbguardError } from './core/errors.js';
import type { CommandContext, CommandResult } from './commands/context.js';
import { createOutput, renderError } from './ui/output.js';

type Handler = (ctx: CommandContext) => Promise<CommandResult>;

interface GlobalOptions {
  json?: boolean;
  cwd?: string;
}

function existingDirectory(path: string): string {
  const dir = resolve(path);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new DbguardError('USAGE', `--cwd ${path}: no such directory`, { hint: 'dbguard --cwd <path to your repository> status' });
  }
  return dir;
}

/** An option's value as typed: cac's parser turns digits into a number, which loses a 19-digit version. */
function optionText(argv: readonly string[], name: string): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg === name) return argv[i + 1];
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
  }
  return undefined;
}

export async function main(argv: readonly string[]): Promise<number> {
  const cli = cac('dbguard');
  let handler: Handler | undefined;
  // cac calls the matched command's action; it only records which handler to run with the context.
  const run = (h: Handler) => {
    handler = h;
  };
  // §17: in a linked worktree, a command that works on the database makes the worktree's own first.
  const onDatabase = (h: Handler): Handler => async (ctx) => {
    await import('./commands/worktree.js').then((m) => m.readyForCommand(ctx));
    return h(ctx);
  };
  const runOnDatabase = (h: Handler) => run(onDatabase(h));

  cli.option('--json', 'Print one JSON document on stdout and nothing else there');
  cli.option('--cwd <dir>', 'Run against the repository in <dir>');

  cli.command('init', 'Write dbguard.config.json, ignore the state dir, install the git hooks')
    .example('dbguard init')
    .action(() => run((ctx) => import('./commands/init.js').then((m) => m.initCommand(ctx))));
  cli.command('status', 'Database, cache, phantom migrations, the plan and the next command')
    .option('--offline', 'Do not start or connect to the database (cache versus disk only)')
    .example('dbguard status')
    .action((options: { offline?: boolean }) => run((ctx) => import('./commands/status.js').then((m) => m.statusCommand(ctx, options))));
  cli.command('check', 'Compare what was applied with the migrations on disk (exit 1 on conflict); asks the database when it runs')
    .option('--offline', 'Never ask the database: the cache against the files on disk only')
    .example('dbguard check || dbguard rollback')
    .action((options: { offline?: boolean }) => run((ctx) => import('./commands/check.js').then((m) => m.checkCommand(ctx, options))));
  cli.command('rollback', 'Roll back applied migrations this branch lacks, down to the common ancestor')
    .option('--dry-run', 'Show the plan and change nothing')
    .option('--yes', 'Do not ask for confirmation (needed when not on a terminal)')
    .option('--keep-irreversible', 'Roll back past migrations with an empty down file that changed the schema, leaving their objects')
    .option('--no-snapshot', 'Do not take a snapshot first (dbguard undo will not be able to bring this back)')
    .option('--disconnect', 'End the other sessions of the database (your app; a pool reconnects) for the snapshot')
    .example('dbguard rollback --dry-run')
    .action((options: { dryRun?: boolean; yes?: boolean; keepIrreversible?: boolean; snapshot?: boolean; disconnect?: boolean }) => runOnDatabase((ctx) => import('./commands/rollback.js').then((m) => m.rollbackCommand(ctx, options))));
  cli.command('reset', 'Empty the database (asks for its name; --yes with DBGUARD_CONFIRM_RESET=<db> in scripts)')
    .option('--yes', 'Confirm without a prompt; also needs DBGUARD_CONFIRM_RESET=<database name>')
    .option('--no-snapshot', 'Do not take a snapshot first (the reset cannot be undone)')
    .option('--disconnect', 'End the other sessions of the database (your app) for the snapshot and the reset')
    .example('DBGUARD_CONFIRM_RESET=postgres dbguard reset --yes')
    .action((options: { yes?: boolean; snapshot?: boolean; disconnect?: boolean }) => runOnDatabase((ctx) => import('./commands/reset.js').then((m) => m.resetCommand(ctx, options))));
  cli.command('capture', 'Store down SQL of applied migrations (run after your own migrator) and refresh the cache')
    .option('--accept-edits', 'Record up files edited since they were applied as what the database has')
    .example('migrate -path migrations -database "$DATABASE_URL" up && dbguard capture')
    .action((options: { acceptEdits?: boolean }) => runOnDatabase((ctx) => import('./commands/capture.js').then((m) => m.captureCommand(ctx, options))));
  cli.command('migrate', 'Apply pending up migrations as the project\'s tool would (its table, its order), capturing down SQL')
    .option('--dry-run', 'List what would be applied and change nothing')
    .option('--strict', 'Refuse migrations below the applied version instead of applying them')
    .option('--replay', 'Roll back the applied migrations above an out-of-order one, then apply all in version order')
    .option('--reapply <version>', 'Roll back an applied migration edited since (and those above it) with their stored down SQL, then apply the files again')
    .option('--no-snapshot', 'With --replay or --reapply: do not take a snapshot before the rewind')
    .option('--disconnect', 'With --replay or --reapply: end the other sessions of the database (your app) for the snapshot')
    .example('dbguard migrate')
    .example('dbguard migrate --reapply 20240301120000 --dry-run')
    .action((options: { dryRun?: boolean; strict?: boolean; replay?: boolean; reapply?: unknown; snapshot?: boolean; disconnect?: boolean }) => runOnDatabase((ctx) => import('./commands/migrate.js').then((m) => m.migrateCommand(ctx, {
      ...options, reapply: options.reapply === undefined ? undefined : optionText(ours, '--reapply') ?? String(options.reapply),
    }))));
  cli.command('snapshot <action> [name]', 'Snapshots of the database: save [name] | list | restore <name> | drop <name>')
    .option('--disconnect', 'End the other sessions of the database (your app; a pool reconnects) for the copy or the restore')
    .example('dbguard snapshot save before-experiment')
    .action((action: string, name: string | undefined, options: { disconnect?: boolean }) => runOnDatabase((ctx) => import('./commands/snapshot.js').then((m) => m.snapshotCommand(ctx, action, name, options))));
  cli.command('undo', 'Restore the snapshot taken before the last rollback, reset or replay (the state it replaces is kept as a snapshot)')
    .option('--disconnect', 'End the other sessions of the database (your app; a pool reconnects) for the restore')
    .example('dbguard undo')
    .action((options: { disconnect?: boolean }) => runOnDatabase((ctx) => import('./commands/snapshot.js').then((m) => m.undoCommand(ctx, options))));
  cli.command('stash <action> [id]', 'Rows kept from rolled-back tables and columns: list | show <id> | export <id> | drop <id|all> | restore <id|all>')
    .option('--dry-run', 'stash restore: say what would go back and change nothing')
    .option('--table <name>', 'stash export: the new table to copy the kept rows into (default public.dbguard_stash_<id>)')
    .example('dbguard stash list')
    .example('dbguard stash restore 3 --dry-run')
    .example('dbguard stash export 3 --table public.kept_nicknames')
    .action((action: string, id: string | undefined, options: { dryRun?: boolean; table?: string }) => runOnDatabase((ctx) => import('./commands/stash.js').then((m) => m.stashCommand(ctx, action, id, options))));
  cli.command('force <version>', 'Clear the dirty flag after repairing a half-applied migration (golang-migrate\'s force; the other tools keep no flag)')
    .example('dbguard force 20240301120000')
    .action((version: string) => runOnDatabase((ctx) => import('./commands/force.js').then((m) => m.forceCommand(ctx, version))));
  cli.command('verify', 'For CI: on a temporary database, check that every down restores the schema its up changed (exit 1)')
    .example('dbguard verify')
    .action(() => runOnDatabase((ctx) => import('./commands/verify.js').then((m) => m.verifyCommand(ctx))));
  cli.command('lint', 'For CI: migrations this branch adds below the base\'s top, or edits and deletes (exit 1)')
    .option('--base <ref>', 'The branch this one will be merged into')
    .example('dbguard lint --base origin/main')
    .action((options: { base?: string }) => run((ctx) => import('./commands/lint.js').then((m) => m.lintCommand(ctx, options))));
  cli.command('run', 'Run your app with dbguard beside it: check first, capture what its migrator applies, its exit code back')
    .option('--rollback', 'Roll back what this branch lacks before starting (as "onConflict": "rollback")')
    .option('--continue', 'Start even though the database has migrations this branch lacks')
    .example('dbguard run -- go run ./cmd/server')
    .allowUnknownOptions()
    .action((options: { rollback?: boolean; continue?: boolean; '--'?: string[] }) => runOnDatabase((ctx) => import('./commands/run.js').then((m) => m.runAppCommand(ctx, options['--'] ?? [], options))));
  cli.command('hooks <action>', 'Git hooks: install | uninstall | status')
    .example('dbguard hooks install')
    .action((action: string) => run((ctx) => import('./commands/hooks.js').then((m) => m.hooksCommand(ctx, action))));
  cli.command('db <action>', 'Embedded database: start | stop | status | url; every database dbguard keeps: list | prune')
    .option('--show-password', 'With url/start: print the password instead of ***')
    .option('--dry-run', 'With prune: list what it would drop and drop nothing')
    .option('--yes', 'With prune: do not ask for confirmation (needed when not on a terminal)')
    .option('--force', 'With stop: stop it even while dbguard run or another worktree\'s command uses it')
    .example('dbguard db start && export DATABASE_URL="$(dbguard db url --show-password)"')
    .example('dbguard db prune --dry-run')
    .action((action: string, options: { showPassword?: boolean; dryRun?: boolean; yes?: boolean; force?: boolean }) => {
      const db: Handler = (ctx) => import('./commands/db.js').then((m) => m.dbCommand(ctx, action, options));
      run(action === 'start' || action === 'url' ? onDatabase(db) : db);
    });
  cli.command('demo', 'A scripted branch switch on a throwaway repository and the embedded database')
    .option('--keep', 'Keep the repository (and leave its database running) to explore afterwards')
    .example('dbguard demo')
    .action((options: { keep?: boolean }) => run((ctx) => import('./commands/demo.js').then((m) => m.demoCommand(ctx, options))));

  cli.help();
  cli.version(pkg.version);
  // cac gives a --no-x option the default true and prints "(default: true)", which reads as "on by
  // default". Without it the option is simply absent unless given; the commands test `=== false`.
  for (const command of cli.commands) for (const option of command.options) if (option.negated) option.config.default = undefined;

  // What follows "--" is `dbguard run`'s command line, not ours (its --json or --help are the app's).
  const ours = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const json = ours.includes('--json');
  const out = createOutput({ json });
  try {
    if (json && (ours.includes('--version') || ours.includes('-v'))) {
      out.document({ ok: true, version: pkg.version });
      return ExitCode.ok;
    }
    // cac prints help text while parsing; with --json the answer must be a document instead.
    if (json && (ours.includes('--help') || ours.includes('-h'))) {
      out.document({
        ok: true,
        commands: cli.commands.map((c) => ({ name: c.name, description: c.description, options: c.options.map((o) => ({ name: o.rawName, description: o.description })) })),
      });
      return ExitCode.ok;
    }
    const parsed = cli.parse([...argv], { run: false });
    if (parsed.options.help || parsed.options.version) return ExitCode.ok;
    if (!cli.matchedCommand) {
      if (parsed.args.length > 0) throw new DbguardError('USAGE', `unknown command "${parsed.args[0]}"`, { hint: 'dbguard --help' });
      if (json) throw new DbguardError('USAGE', 'no command given', { hint: 'dbguard --help' });
      cli.outputHelp();
      return ExitCode.usage;
    }
    await cli.runMatchedCommand();
    const options = parsed.options as GlobalOptions;
    const ctx: CommandContext = {
      cwd: options.cwd === undefined ? process.cwd() : existingDirectory(String(options.cwd)),
      env: process.env,
      out,
      canPrompt: Boolean(process.stdin.isTTY && process.stdout.isTTY) && !json,
    };
    const result = await (handler as Handler)(ctx).finally(() => out.settle());
    if (json) out.document({ ok: result.exitCode === ExitCode.ok, ...result.json });
    return result.exitCode;
  } catch (error) {
    const known = isDbguardError(error) ? error : (error as Error).name === 'CACError'
      ? new DbguardError('USAGE', (error as Error).message, { hint: 'dbguard --help' })
      : error;
    renderError(known, out);
    return isDbguardError(known) ? known.exitCode : ExitCode.failure;
  }
}
