import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { CliError } from './client.js';
import { readAnswer } from './prompt.js';

/** A terminal as the prompt sees it: what is typed comes in, and raw mode is recorded. */
function fakeTerminal() {
  const input = Object.assign(new PassThrough(), {
    isTTY: true,
    modes: [] as boolean[],
    setRawMode(mode: boolean) {
      input.modes.push(mode);
      return input;
    },
  });
  let shown = '';
  const output = {
    write(chunk: string) {
      shown += chunk;
      return true;
    },
  };
  return { input, output, shown: () => shown };
}

describe('reading a token from standard input', () => {
  it('does not echo a secret typed at a terminal, and restores the terminal', async () => {
    const terminal = fakeTerminal();
    const answer = readAnswer(terminal.input, terminal.output, 'Token: ', { secret: true });
    // A paste arrives in one piece; typing arrives a key at a time.
    terminal.input.write('annex_org_');
    terminal.input.write('s3cret-valu');
    terminal.input.write('x\u007fe\r');
    expect(await answer).toBe('annex_org_s3cret-value');
    expect(terminal.shown()).toBe('Token: \n');
    expect(terminal.input.modes).toEqual([true, false]);
  });

  it('cancels on Ctrl-C with exit 130, and restores the terminal', async () => {
    const terminal = fakeTerminal();
    const answer = readAnswer(terminal.input, terminal.output, 'Token: ', { secret: true });
    terminal.input.write('annex_org_half\u0003');
    const error = await answer.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(130);
    expect(terminal.shown()).toBe('Token: \n');
    expect(terminal.input.modes).toEqual([true, false]);
  });

  it('reads a plain answer as a line, leaving echo to the terminal', async () => {
    const terminal = fakeTerminal();
    const answer = readAnswer(terminal.input, terminal.output, 'Type pg-1 to confirm: ');
    terminal.input.write('pg-1\n');
    expect(await answer).toBe('pg-1');
    expect(terminal.shown()).toBe('Type pg-1 to confirm: ');
    expect(terminal.input.modes).toEqual([]);
  });

  it('reads everything from a pipe, with no prompt', async () => {
    const pipe = new PassThrough();
    let shown = '';
    const output = {
      write: (chunk: string) => {
        shown += chunk;
      },
    };
    const answer = readAnswer(pipe, output, 'Token: ', { secret: true });
    pipe.end('annex_org_from-a-pipe\n');
    expect(await answer).toBe('annex_org_from-a-pipe\n');
    expect(shown).toBe('');
  });

  it('is how `annex login` asks for the token: as a secret', async () => {
    const asked: unknown[] = [];
    const code = await runCli(
      ['login', '--catalog', 'http://127.0.0.1:9/graphql'],
      { catalogUrl: undefined, token: undefined, configDir: join(tmpdir(), 'annex-cli-prompt-none') },
      { stdout: () => {}, stderr: () => {}, interactive: true },
      async (prompt, options) => {
        asked.push({ prompt, options });
        return 'annex_org_typed\n';
      },
    );
    // The token was read, then checked against the catalog, which is unreachable here.
    expect(code).toBe(3);
    expect(asked).toEqual([{ prompt: 'Token: ', options: { secret: true } }]);
  });
});
