// Writes hooks/<name> from the installer's template, so the shipped shims and installed hooks never differ.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOOK_NAMES, standaloneHook } from '../src/git/hook-scripts.js';

for (const name of HOOK_NAMES) {
  const path = join(import.meta.dirname, '..', 'hooks', name);
  writeFileSync(path, standaloneHook(name));
  chmodSync(path, 0o755);
}
