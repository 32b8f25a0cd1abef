export { type CliIo, parseArgv, runCli } from './cli.js';
export { CliError, graphqlClient } from './client.js';
export { type CliConfig, loadCliConfig } from './config.js';
