export { type CliIo, type ReadInput, runCli } from './cli.js';
export { CliError, graphqlClient } from './client.js';
export { type CliConfig, loadCliConfig } from './config.js';
export { EXIT_CODES, type ExitCode } from './exit-codes.js';
