import { runCli } from './cli.js';
import { loadCliConfig } from './config.js';
import { readAnswer } from './prompt.js';

const code = await runCli(
  process.argv.slice(2),
  loadCliConfig(process.env),
  {
    stdout: (t) => process.stdout.write(`${t}\n`),
    stderr: (t) => process.stderr.write(`${t}\n`),
    ...(process.stderr.isTTY ? { terminal: process.stderr } : {}),
    interactive: process.stdin.isTTY === true,
  },
  (prompt = 'Token: ', options = {}) => readAnswer(process.stdin, process.stderr, prompt, options),
);
process.exitCode = code;
