import type { Session } from '../sessions.js';
import { html, type SafeHtml } from './html.js';

export interface PageContext {
  session: Session | null;
  /** The path of the page, to mark the current navigation entry. */
  path: string;
  developmentSignIn: boolean;
  /** Why parts of the page are missing: the catalog answered only partially. */
  partialErrors?: readonly string[];
}

/** The message of a page the catalog answered only partially, e.g. "…loaded: boom". */
export function partialFailure(messages: readonly string[]): string {
  return `Part of this page could not be loaded: ${[...new Set(messages)].join('; ')}`;
}

/** Money in minor units, e.g. 2500 usd → "$25.00". */
export function money(cents: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}

/**
 * A billed duration as people read it: "45 s", "12 min 5 s", "2 h 30 min". Whole units,
 * rounded down (the charge is exact; this is what it was for).
 */
export function duration(seconds: number): string {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const min = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return min > 0 ? `${h} h ${min} min` : `${h} h`;
  if (min > 0) return s > 0 ? `${min} min ${s} s` : `${min} min`;
  return `${s} s`;
}

export function csrfField(session: Session | null, anonymousToken?: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${session?.csrfToken ?? anonymousToken ?? ''}">`;
}

export function layout(ctx: PageContext, title: string, body: SafeHtml, options: { script?: boolean } = {}): string {
  const s = ctx.session;
  const nav = (href: string, label: string) =>
    html`<li><a href="${href}"${ctx.path.startsWith(href) ? html` aria-current="page"` : ''}>${label}</a></li>`;
  return `<!doctype html>${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Annex console</title>
<link rel="stylesheet" href="/static/console.css">
${options.script ? html`<script src="/static/console.js" defer></script>` : ''}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">Annex</a>
  ${
    s
      ? html`<nav aria-label="Main"><ul>${s.organization ? html`${nav('/catalog', 'Catalog')}${nav('/apps', 'Apps')}${nav('/billing', 'Billing')}` : ''}${s.provider ? nav('/provider', 'Provider') : ''}</ul></nav>
  <div class="who">
    ${
      s.memberships.length > 1
        ? html`<form method="post" action="/organization" class="inline">
      ${csrfField(s)}
      <label for="org-switch">Organization</label>
      <select id="org-switch" name="organization">${s.memberships.map(
        (m) =>
          html`<option value="${m.slug}"${m.slug === s.organization?.slug ? html` selected` : ''}>${m.name} (${m.slug})</option>`,
      )}</select>
      <button type="submit">Switch</button>
    </form>`
        : html`<span>Organization: <strong>${s.organization?.slug ?? 'none'}</strong></span>`
    }
    ${
      s.providerMemberships.length > 1
        ? html`<form method="post" action="/provider" class="inline">
      ${csrfField(s)}
      <label for="provider-switch">Provider</label>
      <select id="provider-switch" name="provider">${s.providerMemberships.map(
        (m) =>
          html`<option value="${m.slug}"${m.slug === s.provider?.slug ? html` selected` : ''}>${m.name} (${m.slug})</option>`,
      )}</select>
      <button type="submit">Switch</button>
    </form>`
        : ''
    }
    <span class="user">${s.user.name || s.user.email}${s.user.issuer === 'annex-development' ? html` <span class="badge warn">development sign-in</span>` : ''}</span>
    <form method="post" action="/auth/logout" class="inline">${csrfField(s)}<button type="submit">Sign out</button></form>
  </div>`
      : ''
  }
</header>
<main id="main" tabindex="-1">
${
  ctx.partialErrors?.length
    ? html`<p role="alert" class="notice partial">${partialFailure(ctx.partialErrors)}</p>
`
    : ''
}${body}
</main>
</body>
</html>`}`;
}
