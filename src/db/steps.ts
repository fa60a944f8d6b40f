/**
 * The step loop migrate and rollback share: report each step's start, run it, time it, and on the
 * first failure report it and throw the caller's error (the database stays at the last good step).
 */
import type { Reporter } from '../core/events.js';

export interface AppliedStep {
  readonly version: bigint;
  readonly filename: string;
  readonly ms: number;
}

export interface StepLoop<T extends { readonly version: bigint; readonly filename: string }> {
  readonly run: (item: T) => Promise<void>;
  /** The error to throw for a failed step, given what completed before it. */
  readonly failure: (item: T, error: unknown, applied: readonly AppliedStep[]) => Error;
  /** Called before each step; throwing stops the run there (a deadline). */
  readonly beforeEach?: (item: T, applied: readonly AppliedStep[]) => void;
  /** Called after each step's commit (rollback keeps its record in step with the database). */
  readonly afterEach?: (item: T) => Promise<void>;
  /** What a step was, said when it is done as its plan says it (a no-op step). */
  readonly noteOf?: (item: T) => string | undefined;
}

export async function runSteps<T extends { readonly version: bigint; readonly filename: string }>(
  items: readonly T[], report: Reporter, loop: StepLoop<T>,
): Promise<AppliedStep[]> {
  const applied: AppliedStep[] = [];
  for (const [index, item] of items.entries()) {
    loop.beforeEach?.(item, applied);
    report({ type: 'step-start', version: item.version, filename: item.filename, index, total: items.length });
    const started = performance.now();
    try {
      await loop.run(item);
    } catch (error) {
      report({ type: 'step-failed', version: item.version, filename: item.filename, message: (error as Error).message });
      throw loop.failure(item, error, applied);
    }
    const ms = performance.now() - started;
    applied.push({ version: item.version, filename: item.filename, ms });
    const note = loop.noteOf?.(item);
    report({ type: 'step-done', version: item.version, filename: item.filename, ms, ...(note === undefined ? {} : { note }) });
    await loop.afterEach?.(item);
  }
  return applied;
}
