import { describe, expect, it } from 'vitest';
import {
  ALL_SCOPES,
  DEFAULT_TOKEN_SCOPES,
  OPERATION_SCOPES,
  PROVIDER_ROLE_SCOPES,
  PROVIDER_SCOPES,
  principalHasScope,
  ROLE_SCOPES,
  SCOPES,
  scopesForNewToken,
  scopesGrant,
  unknownScopes,
} from './scopes.js';

describe('token scopes', () => {
  it('lets a :write scope grant its :read, except config:write, which does not reveal values', () => {
    expect(scopesGrant(['apps:write'], 'apps:read')).toBe(true);
    expect(scopesGrant(['billing:write'], 'billing:read')).toBe(true);
    expect(scopesGrant(['config:write'], 'config:read')).toBe(false);
    expect(scopesGrant(['apps:read'], 'apps:write')).toBe(false);
    expect(scopesGrant(['config:read'], 'config:write')).toBe(false);
    expect(scopesGrant([], 'sso')).toBe(false);
  });

  it('gives admin tokens every scope, anonymous callers none', () => {
    for (const scope of ALL_SCOPES) {
      expect(principalHasScope({ kind: 'admin', tokenId: 't', scopes: [] }, scope)).toBe(true);
      expect(principalHasScope({ kind: 'anonymous' }, scope)).toBe(false);
    }
  });

  it('stores the default set for org and platform tokens created without scopes: all but config:read', () => {
    expect(scopesForNewToken('org', undefined)).toEqual(DEFAULT_TOKEN_SCOPES);
    expect(scopesForNewToken('platform', [])).toEqual(DEFAULT_TOKEN_SCOPES);
    expect(DEFAULT_TOKEN_SCOPES).not.toContain('config:read');
    expect([...DEFAULT_TOKEN_SCOPES, 'config:read'].sort()).toEqual([...ALL_SCOPES].sort());
    expect(scopesForNewToken('org', ['config:read', 'config:read'])).toEqual(['config:read']);
    expect(scopesForNewToken('provider', undefined)).toEqual(['catalog:publish', 'provider:read', 'provider:write']);
  });

  it('refuses unknown scope names, naming them and the valid ones', () => {
    expect(unknownScopes('org', ['apps:read', 'apps:admin', 'catalog:publish'])).toEqual([
      'apps:admin',
      'catalog:publish',
    ]);
    expect(() => scopesForNewToken('org', ['apps:admin'])).toThrow(/unknown scope apps:admin; .*apps:read, apps:write/);
    expect(() => scopesForNewToken('provider', ['apps:read'])).toThrow(
      /may have: catalog:publish, provider:read, provider:write/,
    );
  });

  it("gives a provider member's session provider:read, and its admin's provider:write too, never publishing", () => {
    expect(PROVIDER_ROLE_SCOPES.member).toEqual(['provider:read']);
    expect(PROVIDER_ROLE_SCOPES.admin).toEqual(['provider:read', 'provider:write']);
  });

  it('lets a console member do all but read config values and change what is billed', () => {
    expect(ROLE_SCOPES.admin).toEqual(ALL_SCOPES);
    expect([...ROLE_SCOPES.member].sort()).toEqual(
      ALL_SCOPES.filter((s) => s !== 'config:read' && s !== 'billing:write').sort(),
    );
  });

  it('names a known scope for every operation, and describes every scope', () => {
    const known: string[] = [...ALL_SCOPES, ...Object.keys(PROVIDER_SCOPES)];
    for (const [operation, scope] of Object.entries(OPERATION_SCOPES)) {
      expect(known, operation).toContain(scope);
    }
    for (const scope of ALL_SCOPES) expect(SCOPES[scope].length).toBeGreaterThan(10);
  });
});
