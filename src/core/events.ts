/** Progress as data: the engine reports, the CLI edge decides how (or whether) to show it. */
export type ProgressEvent =
  | { readonly type: 'server'; readonly action: 'initialising' | 'starting' | 'ready' | 'stopping' | 'stopped' }
  | { readonly type: 'step-start'; readonly version: bigint; readonly filename: string; readonly index: number; readonly total: number }
  /** `note`: what the step was, when not its SQL run as usual ("no-op: data changes kept"). */
  | { readonly type: 'step-done'; readonly version: bigint; readonly filename: string; readonly ms: number; readonly note?: string }
  | { readonly type: 'step-failed'; readonly version: bigint; readonly filename: string; readonly message: string }
  /** An out-of-order down failed and its rewind-and-replay ran instead (§3). */
  | { readonly type: 'step-replayed'; readonly version: bigint; readonly filename: string; readonly message: string; readonly replayed: readonly bigint[] };

export type Reporter = (event: ProgressEvent) => void;

export const silent: Reporter = () => undefined;
