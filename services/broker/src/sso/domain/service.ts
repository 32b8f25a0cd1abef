import { findAddon, findApp } from '../../apps/index.js';
import { type ApiCaller, ApiFailure, invalidInput, notFoundFailure } from '../../shared/domain/api-failure.js';
import type { BrokerContext } from '../../shared/domain/context.js';
import {
  addonServesApp,
  findAppById,
  findSsoTarget,
  findTokenIdentity,
  insertSsoToken,
  type SsoTarget,
} from '../db/store.js';
import { mintSsoToken } from './tokens.js';

/**
 * Who is sent into the provider's dashboard: always the caller. A token that acts for a
 * person (a console session's) names that person; any other token names itself.
 */
export interface SsoUser {
  /** The person's id (`users.id`), or `token:<token id>`. */
  id: string;
  name: string;
  /** As the person's identity provider gave it, unchecked; `""` when there is none. */
  email: string;
  kind: 'person' | 'token';
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
  input: { app?: string | undefined },
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
  const app = input.app ? await findApp(ctx.db, caller, input.app) : await findAppById(ctx.db, target.appId);
  if (!(await addonServesApp(ctx.db, { id: target.addonId, appId: target.appId }, app.id))) {
    throw invalidInput('app', `add-on "${target.addonName}" is not attached to app "${app.name}"`);
  }
  const user = await ssoUserOf(ctx, caller);

  const minted = await mintSsoToken(
    ctx.signer,
    target.providerSlug,
    {
      sub: user.id,
      kind: user.kind,
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

/** The person the caller's token acts for, else the token itself. */
async function ssoUserOf(ctx: BrokerContext, caller: ApiCaller): Promise<SsoUser> {
  const { kind, tokenId } = caller.principal;
  const identity = tokenId ? await findTokenIdentity(ctx.db, tokenId) : undefined;
  if (identity?.userId) {
    const email = identity.userEmail ?? '';
    // A sign-in may bring no name (nor email): the dashboard still needs something to show.
    const name = identity.userName || email || identity.subject || identity.userId;
    return { id: identity.userId, name, email, kind: 'person' };
  }
  return {
    id: `token:${tokenId ?? 'built-in'}`,
    name: identity?.tokenName ?? `${kind} API token`,
    email: '',
    kind: 'token',
  };
}

function requester(caller: ApiCaller): Record<string, unknown> {
  return { kind: caller.principal.kind, tokenId: caller.principal.tokenId };
}
