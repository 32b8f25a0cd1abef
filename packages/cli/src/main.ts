import { openInBrowser } from './browser.js';
import { runCli } from './cli.js';
import { loadCliConfig } from './config.js';
import { readAnswer } from './prompt.js';

const config = loadCliConfig(process.env, process.platform);
const code = await runCli(
  process.argv.slice(2),
  config,
  {
    stdout: (t) => process.stdout.write(`${t}\n`),
    stderr: (t) => process.stderr.write(`${t}\n`),
    ...(process.stderr.isTTY ? { terminal: process.stderr } : {}),
    interactive: process.stdin.isTTY === true,
    // Someone at a terminal with a graphical session sees the browser open; others get the URL.
    ...(process.stdout.isTTY && config.graphicalSession ? { openUrl: (url: string) => openInBrowser(url) } : {}),
  },
  (prompt = 'Token: ', options = {}) => readAnswer(process.stdin, process.stderr, prompt, options),
);
process.exitCode = code;
