/**
 * The exit codes of `annex`, one table for the whole CLI. They are the same as those of the
 * SDK's `annex-provider` (`EXIT_CODES` in `@annex/sdk/cli`), so one script can check both:
 * 0 done, 1 refused by the API (or a failed `--wait`), 2 bad usage, 3 a catalog that does not
 * answer or a missing or refused token; and 130 when someone cancels at the token prompt
 * (Ctrl-C, as shells report a SIGINT).
 *
 * @example
 * const code = await runCli(argv, config, io);
 * if (code === EXIT_CODES.unreachable) console.error('is the catalog running?');
 */
export const EXIT_CODES = Object.freeze({ ok: 0, refused: 1, usage: 2, unreachable: 3, cancelled: 130 } as const);

/** One of {@link EXIT_CODES}. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];
