import { createInterface } from 'node:readline';
import { runCli } from './cli.js';
import { loadCliConfig } from './config.js';

// A terminal gives one line (Enter ends it); a pipe gives everything it has.
async function readStdin(question = 'Token: '): Promise<string> {
  if (process.stdin.isTTY) {
    const prompt = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    try {
      return await new Promise<string>((resolve) => prompt.question(question, resolve));
    } finally {
      prompt.close();
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const code = await runCli(
  process.argv.slice(2),
  loadCliConfig(process.env),
  {
    stdout: (t) => process.stdout.write(`${t}\n`),
    stderr: (t) => process.stderr.write(`${t}\n`),
    ...(process.stderr.isTTY ? { terminal: process.stderr } : {}),
    interactive: process.stdin.isTTY === true,
  },
  readStdin,
);
process.exitCode = code;
