import { describe, expect, it } from 'vitest';
import { browserCommand } from './browser.js';
import { loadCliConfig } from './config.js';

describe('opening a browser', () => {
  // `&` would end a command in cmd.exe and `;` in a shell: the URL must stay one argument.
  const url = 'https://dash.example.com/sso?token=a.b.c&next=/x;y z';

  it('runs the platform’s opener with the URL as one argument, never through a shell', () => {
    expect(browserCommand('linux', url)).toEqual(['xdg-open', [url]]);
    expect(browserCommand('freebsd', url)).toEqual(['xdg-open', [url]]);
    expect(browserCommand('darwin', url)).toEqual(['open', [url]]);
    expect(browserCommand('win32', url)).toEqual(['rundll32', ['url.dll,FileProtocolHandler', url]]);
  });

  it('is possible on macOS and Windows, and elsewhere only with an X11 or Wayland display', () => {
    expect(loadCliConfig({}, 'darwin').graphicalSession).toBe(true);
    expect(loadCliConfig({}, 'win32').graphicalSession).toBe(true);
    expect(loadCliConfig({}, 'linux').graphicalSession).toBe(false);
    expect(loadCliConfig({ DISPLAY: ':0' }, 'linux').graphicalSession).toBe(true);
    expect(loadCliConfig({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux').graphicalSession).toBe(true);
  });
});
