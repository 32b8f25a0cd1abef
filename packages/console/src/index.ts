export { type Console, type ConsoleDeps, createConsole } from './app.js';
export { type ConsoleConfig, loadConsoleConfig } from './config.js';
export { DEVELOPMENT_ISSUER } from './routes/auth.js';
