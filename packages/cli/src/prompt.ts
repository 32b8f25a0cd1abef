import { CliError } from './client.js';
import { EXIT_CODES } from './exit-codes.js';

// Reading an answer from standard input: a line from a terminal, everything from a pipe.
// A secret (a token) is read from a terminal in raw mode and never echoed, like `read -s`.

export interface InputStream extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface OutputStream {
  write(chunk: string): unknown;
}

/**
 * Reads one answer. On a terminal: shows `prompt` on `output` and reads up to Enter, without
 * echo when `secret` (Backspace erases, Ctrl-C cancels with exit 130, Ctrl-D ends). From a pipe: everything.
 */
export async function readAnswer(
  input: InputStream,
  output: OutputStream,
  prompt: string,
  options: { secret?: boolean } = {},
): Promise<string> {
  if (!input.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    return Buffer.concat(chunks).toString('utf8');
  }
  output.write(prompt);
  if (options.secret && input.setRawMode) return readHidden(input, output);
  return readLine(input, output);
}

function readLine(input: InputStream, output: OutputStream): Promise<string> {
  return readUntilEnter(input, output, (text) => text, false);
}

function readHidden(input: InputStream, output: OutputStream): Promise<string> {
  input.setRawMode?.(true);
  return readUntilEnter(input, output, editRaw, true).finally(() => input.setRawMode?.(false));
}

/** What a raw-mode terminal sent, with Backspace applied and control characters dropped. */
function editRaw(text: string): string {
  let answer = '';
  for (const char of text) {
    if (char === '\u007f' || char === '\b') answer = answer.slice(0, -1);
    else if (char >= ' ') answer += char;
  }
  return answer;
}

function readUntilEnter(
  input: InputStream,
  output: OutputStream,
  edit: (text: string) => string,
  raw: boolean,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
      // In raw mode the terminal does not move to the next line by itself.
      if (raw) output.write('\n');
      if (error) reject(error);
      else resolve(edit(text));
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      // Raw mode turns Ctrl-C into a character: cancel with the code of an interrupted program.
      if (raw && text.includes('\u0003')) return finish(new CliError('cancelled', EXIT_CODES.cancelled));
      // Enter ends a line; in raw mode it is a carriage return, and Ctrl-D (EOT) ends it too.
      const end = raw ? firstIndex(text, ['\r', '\n', '\u0004']) : text.indexOf('\n');
      if (end !== -1) {
        text = text.slice(0, end);
        finish();
      }
    };
    const onEnd = () => finish();
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}

/** Where the first of `chars` is in `text`, or -1. */
function firstIndex(text: string, chars: readonly string[]): number {
  const found = chars.map((c) => text.indexOf(c)).filter((i) => i !== -1);
  return found.length > 0 ? Math.min(...found) : -1;
}
