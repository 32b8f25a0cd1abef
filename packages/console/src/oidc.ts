import type { Configuration } from 'openid-client';
import type { Identity } from './sessions.js';

/** Why a sign-in failed; the message is shown to the person signing in. */
export class SignInError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SignInError';
  }
}

/** What must survive the round trip to the identity provider: kept sealed in a short-lived cookie. */
export interface LoginTransaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** Unix ms after which the transaction is refused. */
  expiresAt: number;
}

export interface OidcSignIn {
  issuer: string;
  /** Starts a sign-in: the URL to send the browser to and the transaction to keep. */
  begin(returnTo: string): Promise<{ url: string; transaction: LoginTransaction }>;
  /** Finishes it from the callback URL: code exchange (PKCE), state and nonce checks, userinfo. */
  finish(
    callbackUrl: URL,
    transaction: LoginTransaction,
  ): Promise<{ identity: Identity; claims: Record<string, unknown>; idToken: string | undefined }>;
  /**
   * Where to send a browser signing out so it is signed out at the provider too (its
   * `end_session_endpoint`, with the ID token as hint), or null when the provider has none
   * or cannot be reached (the console's own sign-out stands either way).
   */
  signOutUrl(options: { idToken: string | null; postLogoutRedirectUri: string }): Promise<string | null>;
}

type OpenIdClient = typeof import('openid-client');
let openIdClient: Promise<OpenIdClient> | undefined;
// Loaded with the issuer's discovery, by the first sign-in: an idle console never holds it.
const loadOpenIdClient = (): Promise<OpenIdClient> => {
  openIdClient ??= import('openid-client');
  return openIdClient;
};

const isLoopback = (url: URL) => ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);

/**
 * Authorization code flow with PKCE (S256), state and nonce, through openid-client. The
 * issuer is discovered once, lazily (a provider down at start-up does not stop the console).
 * Plain http is accepted for a loopback issuer only (development and tests).
 */
export function createOidcSignIn(options: {
  issuerUrl: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}): OidcSignIn {
  const issuer = new URL(options.issuerUrl);
  if (issuer.protocol === 'http:' && !isLoopback(issuer)) {
    throw new Error('OIDC_ISSUER_URL must be https (plain http is allowed on loopback only)');
  }
  let discovered: Promise<Configuration> | undefined;
  const configuration = () => {
    discovered ??= loadOpenIdClient()
      .then((client) =>
        client.discovery(issuer, options.clientId, options.clientSecret, undefined, {
          execute: issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [],
        }),
      )
      .catch((error: unknown) => {
        discovered = undefined; // try again on the next sign-in
        throw new SignInError(`the identity provider ${issuer.origin} could not be reached`, { cause: error });
      });
    return discovered;
  };

  return {
    issuer: options.issuerUrl,
    async begin(returnTo) {
      const config = await configuration();
      const client = await loadOpenIdClient();
      const codeVerifier = client.randomPKCECodeVerifier();
      const transaction: LoginTransaction = {
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier,
        returnTo,
        expiresAt: Date.now() + 10 * 60_000,
      };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: options.redirectUri,
        scope: 'openid email profile',
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state: transaction.state,
        nonce: transaction.nonce,
      });
      return { url: url.href, transaction };
    },
    async finish(callbackUrl, transaction) {
      const providerError = callbackUrl.searchParams.get('error');
      if (providerError) {
        const description = callbackUrl.searchParams.get('error_description');
        throw new SignInError(
          `the identity provider refused the sign-in: ${providerError}${description ? ` (${description})` : ''}`,
        );
      }
      if (transaction.expiresAt < Date.now()) throw new SignInError('the sign-in took too long; start again');
      // openid-client checks it too; checked first here for a message that says what is wrong.
      if (callbackUrl.searchParams.get('state') !== transaction.state) {
        throw new SignInError('the state does not match the sign-in this browser started (a forged or stale callback)');
      }
      const config = await configuration();
      const client = await loadOpenIdClient();
      let tokens: Awaited<ReturnType<OpenIdClient['authorizationCodeGrant']>>;
      try {
        tokens = await client.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: transaction.codeVerifier,
          expectedState: transaction.state,
          expectedNonce: transaction.nonce,
          idTokenExpected: true,
        });
      } catch (error) {
        const cause = (error as { cause?: { message?: unknown } }).cause?.message;
        const detail = `${(error as Error).message}${typeof cause === 'string' ? ` (${cause})` : ''}`;
        throw new SignInError(`the sign-in could not be completed: ${detail}`, { cause: error });
      }
      const idClaims = tokens.claims();
      if (!idClaims) throw new SignInError('the identity provider returned no ID token');
      let claims: Record<string, unknown> = { ...idClaims };
      // Many providers put profile claims in userinfo only (oidc-provider does by default).
      if (config.serverMetadata().userinfo_endpoint) {
        try {
          claims = { ...(await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)), ...idClaims };
        } catch (error) {
          throw new SignInError(`the identity provider's userinfo failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
      const email = typeof claims.email === 'string' ? claims.email : '';
      const name = typeof claims.name === 'string' ? claims.name : email || idClaims.sub;
      return {
        identity: { issuer: idClaims.iss, subject: idClaims.sub, email, name },
        claims,
        idToken: tokens.id_token,
      };
    },
    async signOutUrl({ idToken, postLogoutRedirectUri }) {
      let config: Configuration;
      try {
        config = await configuration();
      } catch {
        return null;
      }
      const client = await loadOpenIdClient();
      if (!config.serverMetadata().end_session_endpoint) return null;
      return client.buildEndSessionUrl(config, {
        post_logout_redirect_uri: postLogoutRedirectUri,
        ...(idToken ? { id_token_hint: idToken } : {}),
      }).href;
    },
  };
}
