export { type Console, type ConsoleDeps, createConsole, DEVELOPMENT_ISSUER } from './app.js';
export { type ConsoleConfig, loadConsoleConfig } from './config.js';
