import { html, type SafeHtml } from './html.js';
import { csrfField, duration, layout, money, type PageContext } from './layout.js';
import { type ParametersSchema, parametersFields } from './parameters.js';

const categoryLabel = (id: string) => id.toLowerCase().replace(/_/g, ' ');
const planPrice = (p: { free: boolean; price: { monthly: number; currency: string } }) =>
  p.free ? 'free' : `${money(p.price.monthly, p.price.currency)}/month`;

/** Where a paid plan refused for want of a card sends the user: the billing page's card form. */
export const addCardLink = html`<p><a class="button" href="/billing#card">Add a card on the billing page</a></p>`;

export function errorPage(ctx: PageContext, title: string, message: string, action?: SafeHtml): string {
  return layout(
    ctx,
    title,
    html`<h1>${title}</h1><p role="alert">${message}</p>${action ?? ''}<p><a href="/">Back to the console</a></p>`,
  );
}

export function signInPage(
  ctx: PageContext,
  options: { issuer: string | null; csrf: string; returnTo: string; error?: string },
): string {
  return layout(
    ctx,
    'Sign in',
    html`<h1>Sign in to Annex</h1>
${options.error ? html`<p role="alert" class="error">${options.error}</p>` : ''}
${
  options.issuer
    ? html`<p><a class="button" href="/auth/login?returnTo=${encodeURIComponent(options.returnTo)}">Sign in with your identity provider</a></p>
<p class="help">You will be sent to ${options.issuer}.</p>`
    : html`<section class="dev" aria-labelledby="dev-title">
<h2 id="dev-title">Development sign-in</h2>
<p><strong>No identity provider is configured (OIDC_ISSUER_URL is unset).</strong> This installation offers a local development sign-in instead: it signs you in, without a password, as the development organization's user. Never expose it to a network.</p>
<form method="post" action="/auth/development">
<input type="hidden" name="_csrf" value="${options.csrf}">
<input type="hidden" name="returnTo" value="${options.returnTo}">
<button type="submit">Sign in as the development user</button>
</form>
</section>`
}`,
  );
}

export interface CatalogService {
  slug: string;
  name: string;
  description: string;
  category: string;
  provider: { name: string };
  plans: { free: boolean; price: { monthly: number; currency: string } }[];
}

export function catalogPage(
  ctx: PageContext,
  input: {
    categories: { id: string; serviceCount: number }[];
    services: CatalogService[];
    search: string;
    category: string;
    /** How many services match, and the position of this page's first one (1-based). */
    total: number;
    from: number;
    /** The next page, when there is one; the first, when this is not it. */
    nextHref?: string;
    firstHref?: string;
  },
): string {
  const shown =
    input.services.length === input.total
      ? `${input.total} service${input.total === 1 ? '' : 's'}`
      : `${input.from}–${input.from + input.services.length - 1} of ${input.total} services`;
  return layout(
    ctx,
    'Catalog',
    html`<h1>Catalog</h1>
<form method="get" action="/catalog" class="search" role="search">
  <div class="field"><label for="q">Search services</label><input type="search" id="q" name="q" value="${input.search}"></div>
  <div class="field"><label for="category">Category</label>
  <select id="category" name="category"><option value="">All categories</option>${input.categories.map(
    (c) =>
      html`<option value="${c.id}"${c.id === input.category ? html` selected` : ''}>${categoryLabel(c.id)} (${c.serviceCount})</option>`,
  )}</select></div>
  <button type="submit">Search</button>
</form>
<p aria-live="polite">${shown}</p>
<ul class="cards">${input.services.map((s) => {
      const cheapest = s.plans.reduce<number | null>(
        (min, p) => (min === null || p.price.monthly < min ? p.price.monthly : min),
        null,
      );
      const currency = s.plans[0]?.price.currency ?? 'usd';
      return html`<li class="card"><h2><a href="/services/${s.slug}">${s.name}</a></h2>
<p class="meta">${categoryLabel(s.category)} · by ${s.provider.name}</p><p>${s.description}</p>
<p class="meta">${s.plans.some((p) => p.free) ? 'Free plan available' : cheapest !== null ? `From ${money(cheapest, currency)}/month` : 'No plans'}</p></li>`;
    })}</ul>
${
  input.nextHref || input.firstHref
    ? html`<nav class="pager" aria-label="Catalog pages">${input.firstHref ? html`<a href="${input.firstHref}">First page</a> ` : ''}${
        input.nextHref ? html`<a href="${input.nextHref}" rel="next">Next page</a>` : ''
      }</nav>`
    : ''
}`,
  );
}

export interface ServiceDetail {
  slug: string;
  name: string;
  description: string;
  category: string;
  /** The listing stage (docs/provider-portal.md, "Listing lifecycle"). */
  stage: 'ALPHA' | 'BETA' | 'GA' | 'DEPRECATED';
  regions: string[];
  configVars: string[];
  documentationUrl: string | null;
  provider: { name: string; slug: string };
  plans: {
    slug: string;
    name: string;
    description: string;
    free: boolean;
    deprecated: boolean;
    regions: string[];
    schemas: unknown;
    price: {
      monthly: number;
      currency: string;
      metered: { unit: string; price: number; description: string | null }[];
    };
  }[];
}

/** What a service's listing stage means for someone about to attach it. */
const STAGE_NOTICES: Partial<Record<ServiceDetail['stage'], string>> = {
  ALPHA: 'Alpha: open to the organizations its provider invited; it may change or break.',
  BETA: 'Beta: public, not yet generally available.',
  DEPRECATED: 'Deprecated: no new add-ons can be created; existing add-ons keep working.',
};

export function servicePage(
  ctx: PageContext,
  input: { service: ServiceDetail; apps: string[]; schemas: Map<string, ParametersSchema | null>; error?: string },
): string {
  const s = input.service;
  const plans = s.plans.filter((p) => !p.deprecated);
  const first = plans[0];
  const schema = first ? input.schemas.get(first.slug) : null;
  return layout(
    ctx,
    s.name,
    html`<p><a href="/catalog">← Catalog</a></p>
<h1>${s.name}${s.stage === 'GA' ? '' : html` <span class="badge">${s.stage.toLowerCase()}</span>`}</h1>
${STAGE_NOTICES[s.stage] ? html`<p role="status" class="notice">${STAGE_NOTICES[s.stage]}</p>` : ''}
<p class="meta">${categoryLabel(s.category)} · by ${s.provider.name}${s.documentationUrl ? html` · <a href="${s.documentationUrl}">documentation</a>` : ''}</p>
<p>${s.description}</p>
<p>Sets config vars: ${s.configVars.map((v, i) => html`${i ? ', ' : ''}<code>${v}</code>`)}</p>
<p>Regions: ${s.regions.join(', ') || 'not stated'}</p>
<h2>Plans</h2>
<table><caption class="visually-hidden">Plans of ${s.name}</caption>
<thead><tr><th scope="col">Plan</th><th scope="col">Price</th><th scope="col">Regions</th><th scope="col">Description</th></tr></thead>
<tbody>${s.plans.map(
      (
        p,
      ) => html`<tr><th scope="row">${p.name}${p.name.toLowerCase() === p.slug.toLowerCase() ? '' : html` <code>${p.slug}</code>`}${p.deprecated ? html` <span class="badge">deprecated</span>` : ''}</th>
<td>${p.free ? 'Free' : `${money(p.price.monthly, p.price.currency)}/month`}${p.price.metered.map((m) => html`<br>+ ${money(m.price, p.price.currency)} per ${m.unit}`)}</td>
<td>${(p.regions.length ? p.regions : s.regions).join(', ')}</td><td>${p.description}</td></tr>`,
    )}</tbody></table>
<h2 id="attach-title">Attach to an app</h2>
${input.error ? html`<p role="alert" class="error">${input.error}</p>` : ''}
${
  input.apps.length === 0
    ? html`<p>Your organization has no app yet. <a href="/apps">Create one</a> first.</p>`
    : html`<form method="get" action="/services/${s.slug}/preflight" aria-labelledby="attach-title" class="attach">
<div class="field"><label for="app">App</label><select id="app" name="app" required>${input.apps.map((a) => html`<option>${a}</option>`)}</select></div>
<fieldset><legend>Plan</legend>${plans.map(
        (p, i) =>
          html`<div class="check"><input type="radio" id="plan-${p.slug}" name="plan" value="${p.slug}"${i === 0 ? html` checked` : ''}> <label for="plan-${p.slug}">${p.name} (${planPrice(p)})</label></div>`,
      )}</fieldset>
<div class="field"><label for="as">Attachment name (optional)</label><input type="text" id="as" name="as" pattern="[A-Za-z][A-Za-z0-9_]*" aria-describedby="as-help"><p class="help" id="as-help">Prefixes the config vars: <code>REPORTING</code> gives <code>REPORTING_URL</code>. Empty: the service's default.</p></div>
${
  schema
    ? html`<fieldset><legend>Parameters</legend>${parametersFields(schema, 'param')}${
        plans.some((p) => input.schemas.get(p.slug) !== schema)
          ? html`<p class="help">These parameters are those of the ${first?.name} plan; other plans may differ.</p>`
          : ''
      }</fieldset>`
    : ''
}
<button type="submit">Review the attach</button>
</form>`
}`,
  );
}

export interface PreflightView {
  ok: boolean;
  serviceSlug: string;
  planSlug: string;
  free: boolean;
  priceCents: number;
  currency: string;
  configVars: string[];
  collisions: { name: string; owner: string }[];
  parameterErrors: { path: string; message: string }[];
  problems: string[];
  /** A paid plan and no default card (Stripe billing): the billing page takes one. */
  paymentRequired: boolean;
}

export function preflightPage(
  ctx: PageContext,
  input: { service: string; app: string; as: string; parameters: Record<string, unknown>; preflight: PreflightView },
): string {
  const p = input.preflight;
  return layout(
    ctx,
    'Review the attach',
    html`<p><a href="/services/${input.service}">← ${input.service}</a></p>
<h1>Attach ${p.serviceSlug}:${p.planSlug} to ${input.app}</h1>
<dl class="summary">
<dt>Price</dt><dd>${p.free ? 'Free' : `${money(p.priceCents, p.currency)} per month, charged per second`}</dd>
<dt>Config vars it will set</dt><dd>${p.configVars.map((v, i) => html`${i ? ', ' : ''}<code>${v}</code>`)}</dd>
<dt>Collisions</dt><dd>${p.collisions.length === 0 ? 'None' : html`<ul>${p.collisions.map((c) => html`<li><code>${c.name}</code> is already set (owner: ${c.owner})</li>`)}</ul>`}</dd>
${Object.keys(input.parameters).length > 0 ? html`<dt>Parameters</dt><dd><code>${JSON.stringify(input.parameters)}</code></dd>` : ''}
</dl>
${
  p.ok
    ? html`<form method="post" action="/services/${input.service}/attach">
${csrfField(ctx.session)}
<input type="hidden" name="app" value="${input.app}">
<input type="hidden" name="plan" value="${p.planSlug}">
<input type="hidden" name="as" value="${input.as}">
<input type="hidden" name="parameters" value="${JSON.stringify(input.parameters)}">
<button type="submit">Confirm and attach</button>
</form>`
    : html`<div role="alert" class="error"><p>This attach would be refused:</p><ul>${[...p.problems, ...p.parameterErrors.map((e) => `${e.path}: ${e.message}`)].map((m) => html`<li>${m}</li>`)}</ul></div>
${p.paymentRequired ? addCardLink : ''}<p><a href="/services/${input.service}">Change the choices</a></p>`
}`,
  );
}

export function appsPage(
  ctx: PageContext,
  input: {
    apps: { name: string; releaseVersion: number; addons: { name: string }[] }[];
    /** A refused create: why, and the name that was typed. */
    error?: string;
    name?: string;
  },
): string {
  return layout(
    ctx,
    'Apps',
    html`<h1>Apps of ${ctx.session?.organization?.slug ?? ''}</h1>
${input.error ? html`<p role="alert" class="error">${input.error}</p>` : ''}
${
  input.apps.length === 0
    ? html`<p>No app yet.</p>`
    : html`<ul class="cards">${input.apps.map(
        (a) =>
          html`<li class="card"><h2><a href="/apps/${a.name}">${a.name}</a></h2><p class="meta">release v${a.releaseVersion} · ${a.addons.length} add-on${a.addons.length === 1 ? '' : 's'}</p></li>`,
      )}</ul>`
}
<h2 id="create-title">Create an app</h2>
<form method="post" action="/apps" aria-labelledby="create-title">
${csrfField(ctx.session)}
<div class="field"><label for="name">Name</label><input type="text" id="name" name="name" value="${input.name ?? ''}" required pattern="[a-z][a-z0-9\-]{1,62}" aria-describedby="name-help"><p class="help" id="name-help">Lowercase letters, digits and dashes.</p></div>
<button type="submit">Create app</button>
</form>`,
  );
}

export interface AppDetail {
  name: string;
  organization: string;
  releaseVersion: number;
  /** The latest event when the page was rendered: live events start after it. */
  lastEventId?: string;
  addons: {
    name: string;
    state: string;
    serviceSlug: string;
    planSlug: string;
    providerSlug: string;
    lastError: string | null;
    /** The service's plans the caller can see, to change to; null when it cannot see the service. */
    service?: { plans: PlanChoice[] } | null;
    /** Where it is attached: the organization of each app (another organization's app is not named). */
    attachments: { appOrganization: string }[];
  }[];
  attachments: {
    name: string;
    state: string;
    configVarNames: string[];
    lastError: string | null;
    /** `organization` owns it: another organization's when it is shared with this app's. */
    addon: { name: string; serviceSlug: string; planSlug: string; state: string; organization: string };
  }[];
  configVars: { name: string; owner: string; value: string | null }[];
  releases: {
    version: number;
    actor: string;
    reason: string;
    createdAt: string;
    diff: { name: string; change: string; value: string | null }[];
    /** Add-on vars a rollback left as they are. */
    kept: { name: string; attachment: string }[];
  }[];
}

export interface PlanChoice {
  slug: string;
  name: string;
  free: boolean;
  deprecated: boolean;
  price: { monthly: number; currency: string };
}

/** What the app page's forms did, named in its `done` query parameter after the redirect. */
export const APP_NOTICES = {
  detached: "Detaching: the attachment's vars are removed in a new release, then it is unbound.",
  plan: 'The plan change is under way.',
  rotated: 'Rotating: new credentials replace the old ones in a new release; the old ones are revoked later.',
  destroyed: 'Destroying: the add-on is detached from every app, then deprovisioned.',
  config: 'Config vars changed: see the new release.',
  unchanged: 'Nothing changed: the config var already had that value.',
  rollback: "Rolled back: the new release restores the earlier one's own config vars; add-on vars stay as they are.",
} as const;
export type AppNotice = keyof typeof APP_NOTICES;

export interface AppPageOptions {
  /** The organization's admin role: values may be revealed, and the forms that change things are offered. */
  admin: boolean;
  /** Show the values (only ever for admins). */
  reveal: boolean;
  /** Why the last form was refused. */
  error?: string;
  /** It was refused for want of a card (a paid plan): the billing page takes one. */
  paymentRequired?: boolean;
  notice?: AppNotice;
  /** What the config var form held when it was refused, to fix rather than retype. */
  configForm?: { name: string; value: string };
}

/** A POST form of the app page: the CSRF token, and the app to come back to. */
function postForm(ctx: PageContext, app: string, action: string, body: SafeHtml): SafeHtml {
  return html`<form method="post" action="${action}" class="inline">
${csrfField(ctx.session)}<input type="hidden" name="app" value="${app}">${body}</form>`;
}

/** Change plan, rotate credentials and destroy: for the add-ons the app owns. */
function addonActions(ctx: PageContext, app: string, addon: AppDetail['addons'][number]): SafeHtml {
  const path = `/addons/${encodeURIComponent(addon.name)}`;
  const plans = (addon.service?.plans ?? []).filter((p) => p.slug !== addon.planSlug && !p.deprecated);
  const id = `addon-${addon.name}`;
  return html`<section class="addon-actions" aria-labelledby="${id}">
<h3 id="${id}"><code>${addon.name}</code> <span class="meta">${addon.serviceSlug}:${addon.planSlug}</span></h3>
<div class="actions">
${
  plans.length === 0
    ? html`<p class="help">No other plan to change to.</p>`
    : postForm(
        ctx,
        app,
        `${path}/plan`,
        html`<label for="${id}-plan">New plan</label>
<select id="${id}-plan" name="plan" required>${plans.map((p) => html`<option value="${p.slug}">${p.name} (${planPrice(p)})</option>`)}</select>
<button type="submit">Change plan</button>`,
      )
}
${postForm(ctx, app, `${path}/rotate`, html`<button type="submit" aria-describedby="${id}-rotate-help">Rotate credentials</button><span class="help" id="${id}-rotate-help">New credentials in a new release; the old ones stop working later.</span>`)}
${postForm(
  ctx,
  app,
  `${path}/destroy`,
  html`<label for="${id}-confirm">Type <code>${addon.name}</code> to destroy it</label>
<input type="text" id="${id}-confirm" name="confirm" required autocomplete="off" spellcheck="false" aria-describedby="${id}-destroy-help">
<button type="submit" class="danger">Destroy</button>
<span class="help" id="${id}-destroy-help">Detaches it from every app and removes its vars; its data is gone.</span>`,
)}
</div>
</section>`;
}

export function appState(ctx: PageContext, app: AppDetail, options: AppPageOptions): SafeHtml {
  const dashboardButton = (addon: string) =>
    postForm(
      ctx,
      app.name,
      `/addons/${encodeURIComponent(addon)}/sso`,
      html`<button type="submit" aria-label="Open the dashboard of ${addon}">Open dashboard</button>`,
    );
  // Each organization sees its side of a share: the borrower who lends it, the owner who borrows it.
  const sharedBy = (addon: AppDetail['attachments'][number]['addon']) =>
    addon.organization !== app.organization ? addon.organization : null;
  const borrowers = (name: string) => {
    const orgs = (app.addons.find((o) => o.name === name)?.attachments ?? [])
      .map((a) => a.appOrganization)
      .filter((org) => org !== app.organization);
    return [...new Set(orgs)];
  };
  const shareNote = (name: string) => {
    const orgs = borrowers(name);
    return orgs.length === 0
      ? ''
      : html`<br><span class="meta">also attached by ${orgs.length === 1 ? 'an app' : 'apps'} of ${orgs.join(', ')}</span>`;
  };
  const appPath = `/apps/${encodeURIComponent(app.name)}`;
  // Not on the owner's own attachment: the broker refuses it (an owner keeps an attachment
  // to its add-on); destroying the add-on is the way out.
  const detachButton = (attachment: AppDetail['attachments'][number]) =>
    options.admin &&
    attachment.state !== 'DETACHING' &&
    attachment.state !== 'DETACHED' &&
    !app.addons.some((o) => o.name === attachment.addon.name)
      ? postForm(
          ctx,
          app.name,
          `${appPath}/attachments/${encodeURIComponent(attachment.name)}/detach`,
          html`<button type="submit" aria-label="Detach ${attachment.name}">Detach</button>`,
        )
      : '';
  const managed = app.addons.filter((o) => o.state !== 'DESTROYING' && o.state !== 'DESTROYED');
  const unsettable = (v: AppDetail['configVars'][number]) => options.admin && v.owner === 'user';
  const form = options.configForm ?? { name: '', value: '' };
  return html`<div id="app-state">
${options.admin ? '' : html`<p class="help">Changing add-ons, config vars and releases needs the admin role in ${app.organization}.</p>`}
<h2>Add-ons</h2>
${
  app.addons.length === 0 && app.attachments.length === 0
    ? html`<p>No add-on. <a href="/catalog">Find one in the catalog</a>.</p>`
    : html`<table><thead><tr><th scope="col">Attachment</th><th scope="col">Add-on</th><th scope="col">Plan</th><th scope="col">State</th><th scope="col">Config vars</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${app.attachments.map((a) => {
        const lender = sharedBy(a.addon);
        return html`<tr><th scope="row">${a.name}</th><td>${a.addon.name}${lender ? html`<br><span class="meta">shared by ${lender}</span>` : shareNote(a.addon.name)}</td><td>${a.addon.serviceSlug}:${a.addon.planSlug}</td>
<td><span class="state state-${a.state.toLowerCase()}" data-attachment="${a.name}">${a.state.toLowerCase()}</span>${a.addon.state !== 'PROVISIONED' ? html` (add-on ${a.addon.state.toLowerCase()})` : ''}${a.lastError ? html`<br><span class="error">${a.lastError}</span>` : ''}</td>
<td>${a.configVarNames.map((v, i) => html`${i ? ', ' : ''}<code>${v}</code>`)}</td><td>${lender ? '' : dashboardButton(a.addon.name)}${detachButton(a)}</td></tr>`;
      })}${app.addons
        .filter((o) => !app.attachments.some((a) => a.addon.name === o.name))
        .map(
          (o) =>
            html`<tr><th scope="row">(not attached here)</th><td>${o.name}${shareNote(o.name)}</td><td>${o.serviceSlug}:${o.planSlug}</td><td>add-on ${o.state.toLowerCase()}${o.lastError ? html`<br><span class="error">${o.lastError}</span>` : ''}</td><td></td><td>${dashboardButton(o.name)}</td></tr>`,
        )}</tbody></table>`
}
${options.admin && managed.length > 0 ? html`<h2>Manage the add-ons of ${app.name}</h2>${managed.map((o) => addonActions(ctx, app.name, o))}` : ''}
<h2>Config vars</h2>
${
  options.admin
    ? options.reveal
      ? html`<p><a href="${appPath}">Hide values</a></p>`
      : html`<p><a href="${appPath}?reveal=1">Reveal values</a></p>`
    : html`<p class="help">Values are hidden: revealing them needs the admin role in ${app.organization}.</p>`
}
${
  app.configVars.length === 0
    ? html`<p>No config var yet.</p>`
    : html`<table id="config-vars"><thead><tr><th scope="col">Name</th><th scope="col">Owner</th>${options.reveal ? html`<th scope="col">Value</th>` : ''}${options.admin ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : ''}</tr></thead>
<tbody>${app.configVars.map(
        (v) =>
          html`<tr><th scope="row"><code>${v.name}</code></th><td>${v.owner}</td>${options.reveal ? html`<td><code class="value">${v.value ?? ''}</code></td>` : ''}${
            options.admin
              ? html`<td>${
                  unsettable(v)
                    ? postForm(
                        ctx,
                        app.name,
                        `${appPath}/config`,
                        html`<input type="hidden" name="name" value="${v.name}"><input type="hidden" name="unset" value="1">
<button type="submit" aria-label="Unset ${v.name}">Unset</button>`,
                      )
                    : ''
                }</td>`
              : ''
          }</tr>`,
      )}</tbody></table>`
}
${
  options.admin
    ? html`<h3 id="set-var-title">Set a config var</h3>
<form method="post" action="${appPath}/config" aria-labelledby="set-var-title" class="set-var">
${csrfField(ctx.session)}
<div class="field"><label for="var-name">Name</label><input type="text" id="var-name" name="name" value="${form.name}" required maxlength="128" pattern="[A-Za-z_][A-Za-z0-9_]*" autocomplete="off" spellcheck="false" aria-describedby="var-name-help"><p class="help" id="var-name-help">Letters, digits and underscores, not starting with a digit. An add-on's vars change with the add-on, not here.</p></div>
<div class="field"><label for="var-value">Value</label><input type="text" id="var-value" name="value" value="${form.value}" autocomplete="off" spellcheck="false"></div>
<button type="submit">Set config var</button>
</form>`
    : ''
}
<h2>Releases</h2>
${
  app.releases.length === 0
    ? html`<p>No release yet.</p>`
    : html`<ul class="releases">${app.releases.map(
        (
          r,
        ) => html`<li><p><strong>v${r.version}</strong> · ${r.reason} · by ${r.actor} · <time datetime="${r.createdAt}">${r.createdAt.replace('T', ' ').slice(0, 19)} UTC</time></p>
<ul class="diff">${r.diff.map((d) => html`<li class="diff-${d.change}"><span class="visually-hidden">${d.change}: </span><span aria-hidden="true">${d.change === 'added' ? '+' : d.change === 'removed' ? '−' : '~'}</span> <code>${d.name}</code>${d.value !== null ? html` = <code>${d.value}</code>` : ''}</li>`)}${r.kept.map((k) => html`<li class="diff-kept"><span class="visually-hidden">kept: </span><span aria-hidden="true">=</span> <code>${k.name}</code> (attachment ${k.attachment}) left as it is</li>`)}</ul>${
          options.admin && r.version !== app.releaseVersion
            ? postForm(
                ctx,
                app.name,
                `${appPath}/rollback`,
                html`<input type="hidden" name="version" value="${r.version}"><button type="submit">Roll back to v${r.version}</button>`,
              )
            : ''
        }</li>`,
      )}</ul>`
}
</div>`;
}

export function appPage(ctx: PageContext, app: AppDetail, options: AppPageOptions): string {
  return layout(
    ctx,
    app.name,
    html`<p><a href="/apps">← Apps</a></p>
<h1>${app.name}</h1>
<p class="meta">organization ${app.organization} · release v${app.releaseVersion} · <a href="/apps/${encodeURIComponent(app.name)}${options.reveal ? '?reveal=1' : ''}">Refresh</a></p>
${options.error ? html`<p role="alert" class="error">${options.error}</p>` : ''}${options.paymentRequired ? addCardLink : ''}
${options.notice ? html`<p role="status" class="notice">${APP_NOTICES[options.notice]}</p>` : ''}
<section aria-labelledby="activity-title" class="activity">
<h2 id="activity-title">Live activity</h2>
<p class="help" id="activity-status">Operations appear here as they happen.</p>
<ol id="events" data-app="${app.name}" data-after="${app.lastEventId ?? ''}" aria-live="polite"></ol>
</section>
${appState(ctx, app, options)}`,
    { script: true },
  );
}

/** The billing part of the page; a null part (or an app in `usageMissing`) failed to load. */
export interface BillingView {
  billingAccount: {
    mode: string;
    status: string;
    currentMonthCents: number;
    pastDueSince: string | null;
    graceEndsAt: string | null;
    paymentMethod: {
      brand: string | null;
      last4: string | null;
      expMonth: number | null;
      expYear: number | null;
    } | null;
    spendCaps: { app: string | null; limitCents: number; spentCents: number }[];
    alerts: { app: string | null; month: string; threshold: number; spentCents: number; createdAt: string }[];
  } | null;
  invoices:
    | {
        id: string;
        period: string;
        state: string;
        totalCents: number;
        currency: string;
        paidAt: string | null;
        lines: {
          app: string;
          addon: string;
          plan: string;
          kind: string;
          description: string;
          quantity: number | null;
          unit: string | null;
          seconds: number | null;
          cents: number;
        }[];
      }[]
    | null;
  usage: {
    app: string;
    period: string;
    totalCents: number;
    addons: { addon: string; plan: string; seconds: number; cents: number; capped: boolean }[];
    metered: { addon: string; unit: string; quantity: number; cents: number }[];
  }[];
  /** Apps whose usage could not be loaded. */
  usageMissing: string[];
}

/** The default card as the page names it: brand, last digits and expiry. */
function cardText(card: NonNullable<BillingView['billingAccount']>['paymentMethod']): string {
  if (!card) return 'none';
  const expiry =
    card.expMonth && card.expYear ? `, expires ${String(card.expMonth).padStart(2, '0')}/${card.expYear}` : '';
  return `${card.brand ?? 'card'} ending ${card.last4 ?? '????'}${expiry}`;
}

/**
 * Adding or replacing the card: a button to Stripe Checkout's hosted page (so the console
 * has no card form and never sees a card number) for the organization's admins, when
 * billing goes through Stripe; a ledger-only installation needs no card.
 */
function cardSection(
  ctx: PageContext,
  account: NonNullable<BillingView['billingAccount']>,
  input: { canAddCard: boolean; checkoutReturned: boolean },
): SafeHtml {
  if (account.mode !== 'stripe') {
    return html`<p class="notice" id="card">Billing is ledger-only on this installation: charges are computed and shown, nothing is charged, and no card is needed.</p>`;
  }
  const returned = input.checkoutReturned
    ? html`<p role="status" class="notice">Stripe has taken your card. It becomes the default payment method as soon as Stripe confirms it: reload this page in a moment.</p>`
    : '';
  if (!input.canAddCard) {
    return html`<div id="card">${returned}<p>An admin of ${ctx.session?.organization?.slug ?? 'the organization'} can add or replace the card.</p></div>`;
  }
  return html`<div id="card">${returned}<form method="post" action="/billing/card">
${csrfField(ctx.session)}
<button type="submit">${account.paymentMethod ? 'Replace the card' : 'Add a card'}</button>
<p class="help">Stripe's secure page takes the card; Annex never sees its number.</p>
</form></div>`;
}

export function billingPage(
  ctx: PageContext,
  input: {
    billing: BillingView | null;
    addons: { app: string; name: string; plan: string; free: boolean; cents: number; currency: string }[];
    /** The user may add or replace the card (the organization's admins). */
    canAddCard: boolean;
    /** Back from Stripe Checkout with a session: the card becomes the default once Stripe confirms it. */
    checkoutReturned: boolean;
  },
): string {
  const total = input.addons.reduce((sum, a) => sum + a.cents, 0);
  const currency = input.addons[0]?.currency ?? 'usd';
  const b = input.billing;
  const usd = (cents: number) => money(cents, b?.invoices?.[0]?.currency ?? currency);
  // What failed shows in its place; the layout says why.
  const failed = (what: string) => html`<p class="error">${what} could not be loaded.</p>`;
  return layout(
    ctx,
    'Billing',
    html`<h1>Billing of ${ctx.session?.organization?.slug ?? ''}</h1>
${
  b
    ? html`<h2>Account</h2>
${
  !b.billingAccount
    ? failed('The account')
    : html`<dl class="summary">
<dt>Charges this month</dt><dd>${usd(b.billingAccount.currentMonthCents)}</dd>
<dt>Status</dt><dd>${b.billingAccount.status.replace('_', ' ')}${b.billingAccount.pastDueSince ? ` since ${b.billingAccount.pastDueSince}` : ''}</dd>
<dt>Payment method</dt><dd id="payment-method">${cardText(b.billingAccount.paymentMethod)}</dd>
<dt>Mode</dt><dd>${b.billingAccount.mode === 'stripe' ? 'charged through Stripe' : 'ledger only: nothing is charged on this installation'}</dd>
</dl>
${cardSection(ctx, b.billingAccount, input)}
${b.billingAccount.spendCaps.length > 0 ? html`<h3>Spend caps</h3><ul>${b.billingAccount.spendCaps.map((c) => html`<li>${c.app ?? 'whole organization'}: ${usd(c.spentCents)} of ${usd(c.limitCents)}</li>`)}</ul>` : ''}`
}
<h2>Usage this month</h2>
${
  b.usage.length === 0 && b.usageMissing.length === 0
    ? html`<p>No app.</p>`
    : html`<table id="usage"><thead><tr><th scope="col">App</th><th scope="col">Add-on</th><th scope="col">Plan or unit</th><th scope="col">Quantity</th><th scope="col">Charge</th></tr></thead>
<tbody>${b.usage.map((u) => [
        ...u.addons.map(
          (a) =>
            html`<tr><td>${u.app}</td><th scope="row">${a.addon}</th><td>${a.plan}</td><td>${duration(a.seconds)}${a.capped ? ' (monthly price reached)' : ''}</td><td>${usd(a.cents)}</td></tr>`,
        ),
        ...u.metered.map(
          (m) =>
            html`<tr><td>${u.app}</td><th scope="row">${m.addon}</th><td>${m.unit}</td><td>${m.quantity}</td><td>${usd(m.cents)}</td></tr>`,
        ),
      ])}${b.usageMissing.map((app) => html`<tr><td>${app}</td><td colspan="4" class="error">Usage could not be loaded.</td></tr>`)}</tbody>
<tfoot><tr><th scope="row" colspan="4">Total</th><td>${usd(b.usage.reduce((sum, u) => sum + u.totalCents, 0))}</td></tr></tfoot></table>`
}
<h2>Invoices</h2>
${
  !b.invoices
    ? failed('The invoices')
    : b.invoices.length === 0
      ? html`<p>No invoice yet.</p>`
      : html`<table id="invoices"><thead><tr><th scope="col">Period</th><th scope="col">State</th><th scope="col">Total</th><th scope="col">Lines</th></tr></thead>
<tbody>${b.invoices.map(
          (
            i,
          ) => html`<tr><th scope="row">${i.period}</th><td>${i.state.replace('_', ' ')}${i.paidAt ? ` (paid ${i.paidAt.slice(0, 10)})` : ''}</td><td>${money(i.totalCents, i.currency)}</td>
<td><ul>${i.lines.map((l) => html`<li>${l.app} · ${l.addon}: ${l.description} — ${money(l.cents, i.currency)}</li>`)}</ul></td></tr>`,
        )}</tbody></table>`
}`
    : html`<p role="status" class="notice">Billing is not available on this installation yet: there is no usage or invoice to show. Below are the plan prices of your add-ons, which billing will charge per second, capped at the monthly price.</p>`
}
<h2>Add-ons and their plan prices</h2>
${
  input.addons.length === 0
    ? html`<p>No add-on.</p>`
    : html`<table><thead><tr><th scope="col">App</th><th scope="col">Add-on</th><th scope="col">Plan</th><th scope="col">Monthly price</th></tr></thead>
<tbody>${input.addons.map((a) => html`<tr><td>${a.app}</td><th scope="row">${a.name}</th><td>${a.plan}</td><td>${a.free ? 'Free' : money(a.cents, a.currency)}</td></tr>`)}</tbody>
<tfoot><tr><th scope="row" colspan="3">At most, per month</th><td>${money(total, currency)}</td></tr></tfoot></table>`
}`,
  );
}
