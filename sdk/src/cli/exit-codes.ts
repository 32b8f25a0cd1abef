/**
 * The exit codes of `annex-provider`, the same as the `annex` CLI's, so that one script can
 * check both: 0 done, 1 refused (an invalid manifest, the catalog's refusal, a failed
 * conformance check), 2 bad usage (an unknown command or flag, a malformed value), 3 a server
 * that does not answer or a missing or refused token.
 *
 * @example
 * const code = await runCli(argv, io);
 * if (code === EXIT_CODES.unreachable) console.error('is the catalog running?');
 */
export const EXIT_CODES = Object.freeze({ ok: 0, refused: 1, usage: 2, unreachable: 3 } as const);

/** One of {@link EXIT_CODES}. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/**
 * A failure the user can act on: the CLI prints `error: <message>`, then each detail on its
 * own indented line, and exits with `exitCode`.
 *
 * @example
 * throw new CliError('annex.json is not a valid manifest', EXIT_CODES.refused, ['slug: must be lowercase']);
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}
