// The executable. `dbguard hook …` (run by git on every checkout) goes straight to the hook runner and
// never loads the argument parser; everything else goes through src/cli.ts.
const args = process.argv.slice(2);
if (args[0] === 'hook') {
  const { runHook } = await import('./commands/hook.js');
  const { readFileSync } = await import('node:fs');
  const { escapeControls } = await import('./core/text.js');
  // post-rewrite's "old new" lines: the shim passes them in the environment; a hand-made hook, on stdin.
  const rewritten = args[1] !== 'post-rewrite' ? undefined
    : process.env.DBGUARD_REWRITTEN ?? (process.stdin.isTTY ? '' : (() => { try { return readFileSync(0, 'utf8'); } catch { return ''; } })());
  process.exitCode = await runHook(args[1] ?? '', args.slice(2), {
    cwd: process.cwd(), env: process.env, err: (text) => process.stderr.write(`${escapeControls(text, false)}\n`), ...(rewritten === undefined ? {} : { rewritten }),
  });
} else {
  const { main } = await import('./cli.js');
  const code = await main(process.argv);
  // An output stream that failed (ENOSPC) already set exit code 4.
  if (!process.exitCode) process.exitCode = code;
}
export {};
