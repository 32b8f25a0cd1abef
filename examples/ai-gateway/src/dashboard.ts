import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ProviderStore, SsoContext } from '@annex/sdk';
import express, { type Request, type Response } from 'express';
import { monthOf } from './gateway.js';
import type { GatewayStore } from './state/store.js';

/** The dashboard session cookie, scoped to the dashboard's pages. */
export const DASHBOARD_COOKIE = 'annex_ai_dashboard';
/** How long a dashboard session lasts after the SSO hand-off. */
export const DASHBOARD_SESSION_SECONDS = 3600;

interface DashboardSession {
  /** The instance the session may see: the SSO token's `resource.instanceId`. */
  instanceId: string;
  user: SsoContext['user'];
  org: string;
  app: string | undefined;
  addon: string | undefined;
  /** Epoch seconds. */
  exp: number;
}

/**
 * The add-on's dashboard behind single sign-on: the SDK verifies the broker's SSO token,
 * `signIn` turns it into a session cookie (HMAC-signed, bound to that one instance), and
 * `GET /dashboard/:instanceId` shows the instance's plan, active API keys and this month's
 * tokens. Nothing else signs anyone in: without the cookie the page answers 401.
 *
 * @example
 * const dashboard = createDashboard({ store, protocolStore, plans, now: Date.now });
 * defineProvider({ ...handlers, sso: dashboard.signIn });
 * app.use(dashboard.router());
 */
export function createDashboard(options: {
  store: GatewayStore;
  protocolStore: ProviderStore;
  /** Plan slugs by OSB plan id. */
  planSlugs: ReadonlyMap<string, string>;
  now: () => number;
  /** Signs session cookies; share one between replicas (default: random per process). */
  secret?: string;
}) {
  const secret = options.secret ?? randomBytes(32).toString('base64url');
  const mac = (payload: string) => createHmac('sha256', secret).update(payload).digest('base64url');

  function seal(session: DashboardSession): string {
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    return `${payload}.${mac(payload)}`;
  }

  function open(cookie: string | undefined): DashboardSession | undefined {
    const [payload, signature] = (cookie ?? '').split('.');
    if (!payload || !signature) return undefined;
    const expected = Buffer.from(mac(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as DashboardSession;
    return session.exp * 1000 > options.now() ? session : undefined;
  }

  /** The SDK's `sso` handler: a session for the verified user and instance, then the dashboard. */
  function signIn(sso: SsoContext, _req: Request, res: Response): string {
    const session: DashboardSession = {
      instanceId: sso.resource.instanceId,
      user: sso.user,
      org: sso.org.slug,
      app: sso.app?.name,
      addon: sso.addon?.name,
      exp: Math.floor(options.now() / 1000) + DASHBOARD_SESSION_SECONDS,
    };
    const path = `/dashboard/${encodeURIComponent(sso.resource.instanceId)}`;
    res.cookie(DASHBOARD_COOKIE, seal(session), {
      httpOnly: true,
      sameSite: 'lax',
      path,
      maxAge: DASHBOARD_SESSION_SECONDS * 1000,
    });
    return path;
  }

  function router(): express.Router {
    const r = express.Router();
    r.get('/dashboard/:instanceId', async (req, res, next) => {
      try {
        res.setHeader('Cache-Control', 'no-store');
        const instanceId = String(req.params.instanceId);
        const session = open(cookieOf(req, DASHBOARD_COOKIE));
        if (!session || session.instanceId !== instanceId) {
          res
            .status(401)
            .type('html')
            .send(
              page('Sign in through Annex', '<p>Open this dashboard from the Annex console ("Open dashboard").</p>'),
            );
          return;
        }
        const instance = await options.protocolStore.getInstance(instanceId);
        if (!instance) {
          res.status(404).type('html').send(page('Not found', '<p>This add-on no longer exists.</p>'));
          return;
        }
        const month = monthOf(options.now());
        const [keys, tokens, byKey] = await Promise.all([
          options.store.countActiveKeys(instanceId),
          options.store.monthTokens(instanceId, month),
          options.store.tokensByBinding(instanceId, month),
        ]);
        const plan = options.planSlugs.get(instance.planId) ?? instance.planId;
        res.type('html').send(
          page(
            `AI gateway — ${escapeHtml(session.addon ?? instanceId)}`,
            `<p>Signed in as ${signedInAs(session.user)} for
  ${escapeHtml(session.org)}${session.app ? `, app ${escapeHtml(session.app)}` : ''}.</p>
<dl>
  <dt>Plan</dt><dd data-testid="plan">${escapeHtml(plan)}</dd>
  <dt>Active API keys</dt><dd data-testid="keys">${keys}</dd>
  <dt>Tokens in ${month}</dt><dd data-testid="tokens">${tokens}</dd>
  <dt>Keys that used tokens this month</dt><dd data-testid="keys-used">${Object.keys(byKey).length}</dd>
</dl>`,
          ),
        );
      } catch (error) {
        next(error);
      }
    });
    return r;
  }

  return { signIn, router };
}

function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.header('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key !== name) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      return undefined; // not percent-encoded as we write it: no session
    }
  }
  return undefined;
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;color:#1a1a1a;background:#fff}
dt{font-weight:600;margin-top:.75rem}dd{margin:0}</style></head>
<body><main><h1>${title}</h1>
${body}
</main></body></html>`;
}

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** The person with their address when there is one; an API token as such. */
function signedInAs(user: SsoContext['user']): string {
  if (user.kind === 'token') return `the API token ${escapeHtml(user.name)}`;
  return user.email ? `${escapeHtml(user.name)} (${escapeHtml(user.email)})` : escapeHtml(user.name);
}
