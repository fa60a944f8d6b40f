/** What a hook run reads and writes: its folder, environment, stderr and post-rewrite's stdin. */
export interface HookIo {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly err: (text: string) => void;
  /** post-rewrite's stdin ("old new" lines), read by the caller. */
  readonly rewritten?: string;
}
