import { parseWholeNumber } from './args.js';
import { CliError } from './client.js';
import type { Runtime } from './command.js';
import { EXIT_CODES } from './exit-codes.js';
import { type AddonView, attachedTo, fetchAddon, lower } from './views.js';

/** What one look at an operation found. */
export interface Progress {
  /** Reached a state it will stay in. */
  done: boolean;
  /** Set when that state is a failure: the message (with the add-on's last error) for exit 1. */
  failure?: string;
  /** Shown beside the spinner, and in the timeout message. */
  status: string;
}

const DEFAULT_TIMEOUT_SECONDS = 300;
const ADDON_BUSY = new Set(['PROVISIONING', 'CHANGING_PLAN', 'DESTROYING']);
export const ATTACHMENT_BUSY = new Set(['ATTACHING', 'ROTATING', 'DETACHING']);

/** The flags of every command that starts an operation and can follow it. */
export const WAIT_FLAGS = {
  wait: { type: 'boolean', description: 'follow the operation until it ends (exit 1 when it fails)' },
  timeout: {
    type: 'string',
    value: 'SECONDS',
    description: `with --wait: stop waiting after this long, exit 1 (default ${DEFAULT_TIMEOUT_SECONDS}); the operation goes on`,
  },
} as const;

/** `--wait`'s deadline in seconds, or null without `--wait`; `--timeout` alone is probably a mistake. */
export function waitTimeout(flags: { wait: boolean; timeout: string | undefined }): number | null {
  const timeout =
    flags.timeout === undefined
      ? DEFAULT_TIMEOUT_SECONDS
      : parseWholeNumber('timeout', flags.timeout, 1, 86_400, 'seconds');
  if (!flags.wait && flags.timeout !== undefined)
    throw new CliError('--timeout is only used with --wait', EXIT_CODES.usage);
  return flags.wait ? timeout : null;
}

/**
 * Polls `look` every `ctx.pollIntervalMs` until `judge` says the operation is done, with a
 * spinner meanwhile. A failed end or the deadline (`timeoutSeconds`) is a CliError, exit 1:
 * the operation itself goes on in the broker, only the waiting stops.
 */
export async function waitFor<T>(
  ctx: Pick<Runtime, 'spinner' | 'pollIntervalMs'>,
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
      if (progress.failure) throw new CliError(progress.failure, EXIT_CODES.refused);
      if (progress.done) return value;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new CliError(
          `timed out after ${timeoutSeconds}s waiting for ${label} (last seen: ${progress.status}); it goes on in the background`,
          EXIT_CODES.refused,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(ctx.pollIntervalMs, remaining)));
    }
  } finally {
    spinner.stop();
  }
}

/**
 * Polls the add-on `name` until `judge` says it is done. An add-on that disappears is
 * `whenGone` (a destroyed add-on is no longer listed), or a failure when none is given.
 */
export async function waitForAddon(
  ctx: Pick<Runtime, 'client' | 'spinner' | 'pollIntervalMs'>,
  label: string,
  timeoutSeconds: number,
  name: string,
  judge: (addon: AddonView) => Progress,
  whenGone?: AddonView,
): Promise<AddonView> {
  const addon = await waitFor(
    ctx,
    label,
    timeoutSeconds,
    async () => (await fetchAddon(ctx, name)) ?? whenGone ?? null,
    (seen) => (seen ? judge(seen) : { done: false, failure: 'the add-on is gone', status: 'gone' }),
  );
  // A null add-on is judged a failure above, so it never gets here.
  return addon as AddonView;
}

/** An add-on settles when neither it nor the attachment watched is between states. */
export function addonSettled(addon: AddonView, attachmentId?: string): Progress {
  let status = lower(addon.state);
  if (addon.state === 'FAILED') {
    return { done: true, failure: `add-on ${addon.name} failed: ${addon.lastError ?? 'no error recorded'}`, status };
  }
  if (ADDON_BUSY.has(addon.state)) return { done: false, status };
  if (attachmentId) {
    const attachment = addon.attachments.find((a) => a.id === attachmentId);
    if (!attachment) return { done: false, status: `${status}, attachment not listed yet` };
    status = `${status}, ${attachment.name} ${lower(attachment.state)}`;
    if (attachment.state === 'FAILED') {
      return {
        done: true,
        failure: `attaching ${addon.name} to ${attachedTo(attachment)} as ${attachment.name} failed: ${attachment.lastError ?? addon.lastError ?? 'no error recorded'}`,
        status,
      };
    }
    if (ATTACHMENT_BUSY.has(attachment.state)) return { done: false, status };
  }
  return { done: true, status };
}
