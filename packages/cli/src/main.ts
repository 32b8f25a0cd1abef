import { runCli } from './cli.js';
import { loadCliConfig } from './config.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Token: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const code = await runCli(
  process.argv.slice(2),
  loadCliConfig(process.env),
  { stdout: (t) => process.stdout.write(`${t}\n`), stderr: (t) => process.stderr.write(`${t}\n`) },
  readStdin,
);
process.exitCode = code;
