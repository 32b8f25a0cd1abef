import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoredLogin {
  catalogUrl: string;
  token: string;
}

/** Reads what `annex login` stored, if anything. */
export function readLogin(configDir: string): StoredLogin | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')) as Partial<StoredLogin>;
    if (typeof parsed.token === 'string' && typeof parsed.catalogUrl === 'string') {
      return { token: parsed.token, catalogUrl: parsed.catalogUrl };
    }
  } catch {
    // absent or unreadable: not logged in
  }
  return undefined;
}

/** Stores a login readable by this user only. */
export function writeLogin(configDir: string, login: StoredLogin): string {
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  const file = join(configDir, 'credentials.json');
  writeFileSync(file, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}
