import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { CliError } from '../client.js';
import { defineCommand } from '../command.js';
import { pullConfig } from '../config-pull.js';
import { EXIT_CODES } from '../exit-codes.js';
import { API_FLAG, APP_FLAG } from '../flags.js';

export default defineCommand({
  id: 'run',
  summary: "run a command with APP's config vars in its environment (token scope config:read)",
  description: [
    'The vars are read from the broker when the command starts and handed to it in its',
    'environment only (they are never written to disk); they win over variables of the same',
    'name already set. Put `--` before the command so that its own flags are not read as',
    "annex's. SIGINT, SIGTERM and SIGHUP are passed on to it, and annex exits with its exit",
    'code (128 + the signal number when a signal ended it).',
  ].join('\n'),
  args: { COMMAND: { description: 'the program and its arguments', variadic: true } },
  flags: { app: { ...APP_FLAG, required: true }, api: API_FLAG },
  examples: ['run --app web -- npm start', 'run --app web -- node -e "console.log(process.env.DATABASE_URL)"'],
  async run(ctx) {
    const [program, ...args] = ctx.args.COMMAND;
    if (program === undefined)
      throw new CliError('missing COMMAND; usage: annex run --app APP -- COMMAND...', EXIT_CODES.usage);
    const pulled = await pullConfig(ctx.flags.api ?? ctx.apiUrl, ctx.token, ctx.flags.app);
    const child = spawn(program, args, { stdio: 'inherit', env: { ...ctx.environment, ...pulled.vars } });
    const stopForwarding = ctx.onSignal((signal) => {
      child.kill(signal);
    });
    try {
      return await new Promise<number>((resolve, reject) => {
        child.once('error', (error: NodeJS.ErrnoException) => {
          reject(
            error.code === 'ENOENT'
              ? new CliError(`cannot run "${program}": no such command`, EXIT_CODES.usage)
              : new CliError(`cannot run "${program}": ${error.message}`, EXIT_CODES.refused),
          );
        });
        child.once('exit', (code, signal) => {
          resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
        });
      });
    } finally {
      stopForwarding();
    }
  },
});
