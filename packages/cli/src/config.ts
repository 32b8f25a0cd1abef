import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CliConfig {
  /** The catalog's GraphQL endpoint. */
  catalogUrl: string | undefined;
  /** A token from the environment; wins over the one `annex login` stored. */
  token: string | undefined;
  /** The broker's `/v1` API (ANNEX_API_URL), for config vars pulled by runtimes. */
  apiUrl?: string | undefined;
  /** The whole environment, which `annex run` hands on to the command it starts. */
  environment?: Readonly<Record<string, string | undefined>>;
  /** Where `annex login` keeps its credentials. */
  configDir: string;
  /** Whether a browser window can be shown: macOS and Windows, or an X11/Wayland display. */
  graphicalSession?: boolean;
}

/** The only place the CLI reads its environment. */
export function loadCliConfig(
  env: Readonly<Record<string, string | undefined>>,
  platform: NodeJS.Platform = process.platform,
): CliConfig {
  return {
    catalogUrl: env.ANNEX_CATALOG_URL || undefined,
    token: env.ANNEX_TOKEN || undefined,
    apiUrl: env.ANNEX_API_URL || undefined,
    environment: env,
    configDir: env.ANNEX_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'annex'),
    graphicalSession: platform === 'darwin' || platform === 'win32' || Boolean(env.DISPLAY || env.WAYLAND_DISPLAY),
  };
}

export const DEFAULT_CATALOG_URL = 'http://127.0.0.1:4000/graphql';
