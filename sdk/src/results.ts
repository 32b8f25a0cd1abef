const IN_PROGRESS = Symbol.for('annex.sdk.inProgress');

/**
 * An "in progress" answer: the SDK replies 202 and serves `last_operation` until the work ends.
 *
 * @example
 * const answer: InProgress<{ dashboardUrl: string }> = inProgress({ work: async () => ({ dashboardUrl }) });
 */
export interface InProgress<TResult = unknown> {
  readonly [IN_PROGRESS]: true;
  /** The operation id given to the broker (generated when absent; at most 10000 characters). */
  readonly operation: string | undefined;
  /** Shown to the user while the operation runs. */
  readonly description: string | undefined;
  /**
   * The remaining work, run in the background by the SDK. Its result (or thrown
   * ProviderError) becomes the operation's terminal state. The signal aborts when the
   * broker deletes the instance while it is still being provisioned. Without `work`, finish
   * the operation with `provider.completeOperation` or a `lastOperation` handler.
   */
  readonly work: ((signal: AbortSignal) => Promise<TResult>) | undefined;
}

/**
 * Answers "in progress": the SDK replies 202 (only when the broker sent
 * `accepts_incomplete=true`, else 422 AsyncRequired) and serves `last_operation`.
 *
 * @example
 * provision: async (ctx) =>
 *   inProgress({
 *     description: 'creating the database',
 *     work: async () => {
 *       await createDatabase(ctx.instanceId);
 *       return { dashboardUrl: `https://db.example.com/${ctx.instanceId}` };
 *     },
 *   }),
 */
export function inProgress<TResult = unknown>(
  options: { operation?: string; description?: string; work?: (signal: AbortSignal) => Promise<TResult> } = {},
): InProgress<TResult> {
  if (options.operation !== undefined && (options.operation.length === 0 || options.operation.length > 10_000)) {
    throw new RangeError('an operation id must be 1-10000 characters');
  }
  return { [IN_PROGRESS]: true, operation: options.operation, description: options.description, work: options.work };
}

/**
 * Whether a handler's answer is {@link inProgress}.
 *
 * @example
 * if (isInProgress(result)) console.log(result.operation);
 */
export function isInProgress(value: unknown): value is InProgress {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[IN_PROGRESS] === true;
}
