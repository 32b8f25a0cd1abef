import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecretBox } from './secrets.js';

/**
 * For the embedded installation only: the encryption key spec kept beside the PGlite data
 * (`<dataDir>/encryption-keys`, mode 0600), created on first start. A server installation
 * sets ANNEX_ENCRYPTION_KEYS instead; keys never live in the database they protect.
 */
export function ensureLocalEncryptionKeys(dataDir: string): { spec: string; created: boolean } {
  const file = join(dataDir, 'encryption-keys');
  if (existsSync(file)) {
    const spec = readFileSync(file, 'utf8').trim();
    SecretBox.fromSpec(spec); // fails loudly on a damaged file
    return { spec, created: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const spec = SecretBox.generateSpec('local1');
  writeFileSync(file, `${spec}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { spec, created: true };
}
