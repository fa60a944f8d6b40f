// Runs every benchmark in one process tree, one after another, so their figures come from one run.
import { spawnSync } from 'node:child_process';

const benches = ['bench/core.ts', 'bench/hook.ts', 'bench/hook-shim.ts', 'bench/app.ts', 'bench/rollback.ts', 'bench/migrate.ts', 'bench/formats.ts', 'bench/verify.ts', 'bench/snapshot.ts', 'bench/stash.ts', 'bench/stash-wide.ts', 'bench/snapshot-clone.ts', 'bench/worktree.ts', 'bench/branch.ts'];
let failed = false;
for (const bench of benches) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', bench], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
