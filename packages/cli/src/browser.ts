import { spawn } from 'node:child_process';

/**
 * The program that opens a URL in the default browser, with its arguments; never a shell
 * string, so nothing in the URL is interpreted. On Windows `start` is a cmd.exe built-in,
 * which would parse the URL (`&` ends a command); the URL protocol handler is called instead.
 */
export function browserCommand(platform: NodeJS.Platform, url: string): [string, string[]] {
  if (platform === 'darwin') return ['open', [url]];
  if (platform === 'win32') return ['rundll32', ['url.dll,FileProtocolHandler', url]];
  return ['xdg-open', [url]];
}

/**
 * Opens `url` in a browser, detached so that the CLI exits at once. Resolves false when
 * the opener could not be started (not installed), so the caller prints the URL instead.
 */
export function openInBrowser(url: string, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  const [command, args] = browserCommand(platform, url);
  return new Promise((resolve) => {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}
