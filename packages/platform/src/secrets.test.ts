import { describe, expect, it } from 'vitest';
import { hashPassword, SecretBox, verifyPassword } from './secrets.js';

describe('SecretBox', () => {
  it('seals with the first key and opens with any listed key, so keys rotate', () => {
    const oldSpec = SecretBox.generateSpec('k1');
    const sealedOld = SecretBox.fromSpec(oldSpec).seal('s3cret');
    const rotated = SecretBox.fromSpec(`${SecretBox.generateSpec('k2')},${oldSpec}`);
    expect(rotated.open(sealedOld)).toBe('s3cret');
    const sealedNew = rotated.seal('n3w');
    expect(SecretBox.keyIdOf(sealedNew)).toBe('k2');
    expect(rotated.open(sealedNew)).toBe('n3w');
    expect(sealedNew).not.toContain('n3w');
  });

  it('refuses tampered values and unknown keys', () => {
    const box = SecretBox.fromSpec(SecretBox.generateSpec('k1'));
    const sealed = box.seal('value');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3] as string, 'base64url');
    body[0] = (body[0] as number) ^ 1;
    expect(() => box.open([parts[0], parts[1], parts[2], body.toString('base64url')].join('.'))).toThrow();
    expect(() => SecretBox.fromSpec(SecretBox.generateSpec('other')).open(sealed)).toThrow(/unknown key "k1"/);
  });

  it('names what is wrong with a key spec', () => {
    expect(() => SecretBox.fromSpec('k1:c2hvcnQ=')).toThrow(/must be 32 bytes/);
    expect(() => SecretBox.fromSpec('nonsense')).toThrow(/id:base64key/);
  });
});

describe('passwords', () => {
  it('verifies the right password only', async () => {
    const stored = await hashPassword('correct horse');
    expect(stored).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('wrong horse', stored)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });
});
