import { CliError } from './client.js';
import type { CommandContext } from './context.js';

/** What one look at an operation found. */
export interface Progress {
  /** Reached a state it will stay in. */
  done: boolean;
  /** Set when that state is a failure: the message (with the add-on's last error) for exit 1. */
  failure?: string;
  /** Shown beside the spinner, and in the timeout message. */
  status: string;
}

/**
 * Polls `look` every `ctx.pollIntervalMs` until `judge` says the operation is done, with a
 * spinner meanwhile. A failed end or the deadline (`timeoutSeconds`) is a CliError, exit 1:
 * the operation itself goes on in the broker, only the waiting stops.
 */
export async function waitFor<T>(
  ctx: CommandContext,
  label: string,
  timeoutSeconds: number,
  look: () => Promise<T>,
  judge: (value: T) => Progress,
): Promise<T> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const spinner = ctx.spinner(label);
  try {
    for (;;) {
      const value = await look();
      const progress = judge(value);
      spinner.update(progress.status);
      if (progress.failure) throw new CliError(progress.failure, 1);
      if (progress.done) return value;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new CliError(
          `timed out after ${timeoutSeconds}s waiting for ${label} (last seen: ${progress.status}); it goes on in the background`,
          1,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(ctx.pollIntervalMs, remaining)));
    }
  } finally {
    spinner.stop();
  }
}
