// The executable. `dbguard hook …` (run by git on every checkout) goes straight to the hook runner and
// never loads the argument parser; everything else goes through src/cli.ts.
const args = process.argv.slice(2);
if (args[0] === 'hook') {
  const { runHook } = await import('./commands/hook.js');
  process.exitCode = await runHook(args[1] ?? '', args.slice(2), { cwd: process.cwd(), env: process.env, err: (text) => process.stderr.write(`${text}\n`) });
} else {
  const { main } = await import('./cli.js');
  process.exitCode = await main(process.argv);
}
export {};
