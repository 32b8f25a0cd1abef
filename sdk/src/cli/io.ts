/**
 * Where the CLI writes and what it reads; the bin passes the process's, tests their own.
 *
 * @example
 * const io: CliIo = { stdout: console.log, stderr: console.error, cwd: process.cwd(), env: process.env };
 */
export interface CliIo {
  stdout(line: string): void;
  stderr(line: string): void;
  cwd: string;
  env: Record<string, string | undefined>;
}
