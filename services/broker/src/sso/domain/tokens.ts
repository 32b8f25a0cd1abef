import { SSO_TOKEN_TYPE } from '@annex/sdk';
import type { RequestSigner, SignedToken } from '../../shared/domain/signing.js';

/** SSO hand-off tokens live this long: the most the SDK accepts (docs/provider-protocol.md §2). */
export const SSO_TOKEN_LIFETIME_SECONDS = 60;

/** The claims of an SSO hand-off token beyond `iss`, `aud`, `iat`, `exp` and `jti`. */
export interface SsoClaims {
  /** The person's id, or `token:<token id>`. */
  sub: string;
  /** What `sub` is. */
  kind: 'person' | 'token';
  /** `""` when there is none: SDKs from before `kind` require the claim. */
  email: string;
  name: string;
  org: { id: string; slug: string };
  app: { id: string; name: string };
  resource: { instanceId: string; serviceId: string; planId: string };
  addon: { id: string; name: string };
}

/**
 * Mints an SSO hand-off token for the provider `audience`, signed like the broker's calls
 * to providers (same keys, same JWKS) but typed `SSO_TOKEN_TYPE`, so neither kind of token
 * passes for the other.
 */
export function mintSsoToken(
  signer: RequestSigner,
  audience: string,
  claims: SsoClaims,
  now = new Date(),
): Promise<SignedToken> {
  return signer.signToken(
    { audience, type: SSO_TOKEN_TYPE, claims: { ...claims }, lifetimeSeconds: SSO_TOKEN_LIFETIME_SECONDS },
    now,
  );
}
