import { describe, expect, it } from 'vitest';
import { parseOriginatingIdentity } from './middleware.js';

describe('parseOriginatingIdentity', () => {
  it('reads the platform and the base64 JSON object', () => {
    const value = Buffer.from(JSON.stringify({ user_id: 'u-1' })).toString('base64');
    expect(parseOriginatingIdentity(`kubernetes ${value}`)).toEqual({
      platform: 'kubernetes',
      value: { user_id: 'u-1' },
      header: `kubernetes ${value}`,
    });
  });

  it('refuses anything else', () => {
    expect(parseOriginatingIdentity('kubernetes')).toBeUndefined();
    expect(parseOriginatingIdentity(`cf ${Buffer.from('[1]').toString('base64')}`)).toBeUndefined();
    expect(parseOriginatingIdentity('cf not-base64-json')).toBeUndefined();
  });
});
