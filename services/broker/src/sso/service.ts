import { type ApiCaller, ApiFailure, invalidInput, notFoundFailure } from '../apps/http.js';
import { findAddon, findApp } from '../apps/store.js';
import type { BrokerContext } from '../domain/context.js';
import { addonServesApp, findSsoTarget, insertSsoToken, type SsoTarget } from './store.js';
import { mintSsoToken } from './tokens.js';

/** The user the caller sends into the provider's dashboard (the console's signed-in person). */
export interface SsoUser {
  id: string;
  email: string;
  name: string;
}

/** The answer of `POST /v1/addons/:addon/sso`. */
export interface SsoHandOff {
  /** The provider's SSO URL with `?token=<SSO JWT>`: send the user's browser there now. */
  url: string;
  expiresAt: Date;
}

// Only an add-on whose instance exists at the provider has a dashboard to open.
const OPENABLE_STATES = new Set(['provisioned', 'changing_plan']);

/**
 * Mints a single-use SSO token for an add-on the caller may see and answers the provider's
 * SSO URL carrying it. The token is recorded (`sso_tokens`) before it is handed out.
 * Another organization's add-on is "not found", exactly like a missing one.
 */
export async function createSsoHandOff(
  ctx: BrokerContext,
  caller: ApiCaller,
  addonRef: string,
  input: { app?: string | undefined; user?: SsoUser | undefined },
  now = new Date(),
): Promise<SsoHandOff> {
  const addon = await findAddon(ctx.db, caller, addonRef);
  const target = await findSsoTarget(ctx.db, addon.id);
  if (!target) throw notFoundFailure(`add-on "${addonRef}"`);
  if (!OPENABLE_STATES.has(target.addonState)) {
    throw new ApiFailure(
      'conflict',
      `add-on "${target.addonName}" is ${target.addonState}; its dashboard opens once it is provisioned`,
    );
  }
  const ssoUrl = providerSsoUrl(target);
  const app = input.app
    ? await findApp(ctx.db, caller, input.app)
    : await ctx.db.selectFrom('apps').selectAll().where('id', '=', target.appId).executeTakeFirstOrThrow();
  if (!(await addonServesApp(ctx.db, { id: target.addonId, appId: target.appId }, app.id))) {
    throw invalidInput('app', `add-on "${target.addonName}" is not attached to app "${app.name}"`);
  }
  const user = input.user ?? machineUser(caller);

  const minted = await mintSsoToken(
    ctx.signer,
    target.providerSlug,
    {
      sub: user.id,
      email: user.email,
      name: user.name,
      org: { id: target.organizationId, slug: target.organizationSlug },
      app: { id: app.id, name: app.name },
      resource: { instanceId: target.providerInstanceId, serviceId: target.serviceOsbId, planId: target.planOsbId },
      addon: { id: target.addonId, name: target.addonName },
    },
    now,
  );
  await insertSsoToken(ctx.db, {
    jti: minted.jti,
    addon_id: target.addonId,
    app_id: app.id,
    organization_id: target.organizationId,
    provider_id: target.providerId,
    user_id: user.id,
    user_email: user.email,
    user_name: user.name,
    requested_by: JSON.stringify(requester(caller)),
    issued_at: minted.issuedAt,
    expires_at: minted.expiresAt,
  });
  const url = new URL(ssoUrl);
  url.searchParams.set('token', minted.token);
  return { url: url.toString(), expiresAt: minted.expiresAt };
}

/** The manifest's `sso.url`, else what the SDK serves: `${osb.url}/sso` (JWT providers only). */
function providerSsoUrl(target: SsoTarget): string {
  const sso = target.manifest?.sso as { url?: unknown } | undefined;
  if (typeof sso?.url === 'string' && sso.url !== '') return sso.url;
  if (target.providerAuthKind === 'jwt' && target.providerOsbUrl) {
    return `${target.providerOsbUrl.replace(/\/+$/, '')}/sso`;
  }
  throw new ApiFailure(
    'not_offered',
    `provider "${target.providerSlug}" offers no dashboard single sign-on (its manifest has no sso.url)`,
  );
}

/** Without a person named, the token speaks for the API token that asked. */
function machineUser(caller: ApiCaller): SsoUser {
  const { kind } = caller.principal;
  const tokenId = caller.principal.tokenId ?? 'built-in';
  return { id: `token:${tokenId}`, email: '', name: `${kind} API token` };
}

function requester(caller: ApiCaller): Record<string, unknown> {
  return { kind: caller.principal.kind, tokenId: caller.principal.tokenId };
}
