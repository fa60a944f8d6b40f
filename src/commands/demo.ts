import { DbguardError } from '../core/errors.js';
import type { CommandContext, CommandResult } from './context.js';

export async function demoCommand(_ctx: CommandContext): Promise<CommandResult> {
  throw new DbguardError('INTERNAL', 'the demo is not yet built', { hint: 'dbguard --help' });
}
