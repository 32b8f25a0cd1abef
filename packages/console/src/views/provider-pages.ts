import type { ResultOf } from '@annex/contracts/graphql';
import type {
  ProviderHealthQuery,
  ProviderInstallationsQuery,
  ProviderListingQuery,
  ProviderOverviewQuery,
  ProviderPayoutsQuery,
} from '../documents.js';
import { barChart, lineChart } from './charts.js';
import { html, type SafeHtml } from './html.js';
import { csrfField, layout, money, type PageContext } from './layout.js';

// The Provider section (docs/provider-portal.md, "Console"): what a provider's members see
// of its business, asked with the session's provider token.

type Overview = NonNullable<ResultOf<typeof ProviderOverviewQuery>['provider']>;
type Installations = NonNullable<ResultOf<typeof ProviderInstallationsQuery>['provider']>;
type Payouts = NonNullable<ResultOf<typeof ProviderPayoutsQuery>['provider']>;
type Health = NonNullable<ResultOf<typeof ProviderHealthQuery>['provider']>;
type Listing = NonNullable<ResultOf<typeof ProviderListingQuery>['provider']>;
type Bucket = { start: unknown; count: number; errorRate: number; p50Ms: number | null };

/** The section's pages, for its own navigation. */
const SECTION = [
  ['/provider', 'Overview'],
  ['/provider/installations', 'Installations'],
  ['/provider/health', 'Health'],
  ['/provider/payouts', 'Payouts'],
  ['/provider/listing', 'Listing'],
] as const;

const percent = (rate: number) => `${Math.round(rate * 1000) / 10}%`;
const ms = (value: number | null | undefined) =>
  value === null || value === undefined ? '—' : `${Math.round(value)} ms`;

/** The health part every page that shows it draws: error rate and median latency per day. */
function healthCharts(daily: readonly Bucket[]): SafeHtml {
  const day = (b: Bucket) => String(b.start).slice(0, 10);
  const last = daily.at(-1);
  return html`${lineChart({
    id: 'chart-errors',
    title: "Error rate of the broker's calls to you per day, last 30 days",
    description: `Today ${percent(last?.errorRate ?? 0)} of ${last?.count ?? 0} calls failed.`,
    points: daily.map((b) => ({ label: day(b), value: Math.round(b.errorRate * 1000) / 10 })),
    format: (v) => `${v}%`,
    valueLabel: 'Error rate',
  })}${lineChart({
    id: 'chart-latency',
    title: "Median latency of the broker's calls to you per day, last 30 days",
    description: `Today's median: ${ms(last?.p50Ms)}.`,
    points: daily.map((b) => ({ label: day(b), value: Math.round(b.p50Ms ?? 0) })),
    format: (v) => `${v} ms`,
    valueLabel: 'Median latency',
  })}`;
}

function sectionNav(ctx: PageContext): SafeHtml {
  return html`<nav aria-label="Provider" class="subnav"><ul>${SECTION.map(
    ([href, label]) =>
      html`<li><a href="${href}"${ctx.path === href ? html` aria-current="page"` : ''}>${label}</a></li>`,
  )}</ul></nav>`;
}

const failed = (what: string) => html`<p class="error">${what} could not be loaded.</p>`;
const STATES = ['provisioning', 'provisioned', 'changing_plan', 'failed', 'destroying', 'destroyed', 'suspended'];

export function providerOverviewPage(ctx: PageContext, provider: Overview): string {
  const revenue = provider.revenue;
  const currency = revenue?.months[0]?.currency ?? 'usd';
  const months = [...(revenue?.months ?? [])].filter((m) => m.currency === currency).reverse();
  const active = provider.activeInstallations ?? null;
  const health = provider.health ?? null;
  const today = active?.at(-1);
  return layout(
    ctx,
    `${provider.name} · Provider`,
    html`<h1>${provider.name}</h1>
${sectionNav(ctx)}
<dl class="summary">
<dt>Listing</dt><dd>${provider.listingState.toLowerCase()}</dd>
<dt>Services</dt><dd>${provider.services.map((s) => s.name).join(', ') || 'none yet'}</dd>
<dt>Installations</dt><dd>${provider.installations ? String(provider.installations.totalCount) : '—'}</dd>
<dt>Revenue share</dt><dd>${revenue ? `${Math.round(revenue.revenueShare * 1000) / 10}%` : '—'}${revenue?.mode === 'ledger-only' ? ' (ledger-only: payouts show what would be paid)' : ''}</dd>
</dl>
<h2>Active add-ons</h2>
${
  active
    ? lineChart({
        id: 'chart-active',
        title: 'Active add-ons per day, last 30 days',
        description: `${today?.active ?? 0} add-ons live today (${today?.day ?? ''}).`,
        points: active.map((d) => ({ label: d.day, value: d.active })),
        valueLabel: 'Live add-ons',
      })
    : failed('Active add-ons')
}
<h2>Revenue per month</h2>
${
  !revenue
    ? failed('Revenue')
    : months.length === 0
      ? html`<p>No invoiced month yet: revenue shows once a month with add-ons of yours is invoiced.</p>`
      : barChart({
          id: 'chart-revenue',
          title: `Gross revenue per month (${currency.toUpperCase()})`,
          description: `${months.length} invoiced month${months.length === 1 ? '' : 's'}; latest ${months.at(-1)?.period}: ${money(months.at(-1)?.grossCents ?? 0, currency)} gross, ${money(months.at(-1)?.shareCents ?? 0, currency)} your share.`,
          points: months.map((m) => ({ label: m.period, value: m.grossCents })),
          format: (cents) => money(cents, currency),
          valueLabel: 'Gross revenue',
        })
}
<h2>Health</h2>
${health ? healthCharts(health.daily) : failed('Health')}`,
  );
}

const stats = (s: { count: number; errors: number; errorRate: number; p50Ms: number | null; p99Ms: number | null }) =>
  html`<td>${s.count}</td><td>${s.errors} (${percent(s.errorRate)})</td><td>${ms(s.p50Ms)}</td><td>${ms(s.p99Ms)}</td>`;

export function providerHealthPage(ctx: PageContext, provider: Health): string {
  const health = provider.health;
  return layout(
    ctx,
    `Health · ${provider.name}`,
    html`<h1>Health of ${provider.name}</h1>
${sectionNav(ctx)}
${
  !health
    ? failed('Health')
    : html`<p>Every call the broker makes to your endpoint, as it went: the last hour and the last 30 days.</p>
<table id="health-operations"><thead><tr><th scope="col">Operation</th><th scope="col">Calls (1 h)</th><th scope="col">Failed (1 h)</th><th scope="col">p50 (1 h)</th><th scope="col">p99 (1 h)</th><th scope="col">Calls (30 d)</th><th scope="col">Failed (30 d)</th><th scope="col">p50 (30 d)</th><th scope="col">p99 (30 d)</th></tr></thead>
<tbody>${health.operations.map(
        (o) => html`<tr><th scope="row">${o.operation}</th>${stats(o.lastHour)}${stats(o.last30Days)}</tr>`,
      )}</tbody>
<tfoot><tr><th scope="row">All</th>${stats(health.overall.lastHour)}${stats(health.overall.last30Days)}</tr></tfoot></table>
${healthCharts(health.daily)}
<h2>Recent failures</h2>
${
  health.failures.length === 0
    ? html`<p>No failed call in the last 30 days.</p>`
    : html`<table id="health-failures"><thead><tr><th scope="col">When</th><th scope="col">Operation</th><th scope="col">Service</th><th scope="col">Outcome</th><th scope="col">Status</th><th scope="col">Latency</th><th scope="col">Your answer</th></tr></thead>
<tbody>${health.failures.map(
        (f) =>
          html`<tr><th scope="row">${String(f.at).slice(0, 19).replace('T', ' ')}</th><td>${f.operation}</td><td>${f.service ?? '—'}</td><td>${f.outcome}</td><td>${f.status ?? '—'}</td><td>${ms(f.latencyMs)}</td><td>${f.error ? html`<code>${f.error}</code> ` : ''}${f.description ?? ''}</td></tr>`,
      )}</tbody></table>`
}`
}`,
  );
}

export function providerListingPage(
  ctx: PageContext,
  provider: Listing,
  notice?: { kind: 'done' | 'error'; message: string },
): string {
  return layout(
    ctx,
    `Listing · ${provider.name}`,
    html`<h1>Listing of ${provider.name}</h1>
${sectionNav(ctx)}
${notice ? html`<p role="${notice.kind === 'error' ? 'alert' : 'status'}" class="notice${notice.kind === 'error' ? ' error' : ''}">${notice.message}</p>` : ''}
<p>ALPHA: only organizations you invite see it. BETA: public, marked beta. GA: after an admin approves your request. DEPRECATED: no new add-ons; existing ones keep working.</p>
${provider.services.map((service) => {
  const invitations = service.alphaInvitations;
  return html`<section class="listing" id="listing-${service.slug}">
<h2>${service.name} <span class="badge">${service.stage.toLowerCase()}</span></h2>
${
  invitations.__typename !== 'ServiceAlphaInvitationsSuccess'
    ? html`<p class="error">${'message' in invitations ? invitations.message : 'The invitations could not be loaded.'}</p>`
    : invitations.data.length === 0
      ? html`<p>No organization invited.</p>`
      : html`<ul class="invitations">${invitations.data.map(
          (i) =>
            html`<li>${i.organizationName} (<code>${i.organization}</code>), since ${String(i.createdAt).slice(0, 10)}</li>`,
        )}</ul>`
}
${
  service.stage === 'ALPHA'
    ? html`<form method="post" action="/provider/listing/invite" class="inline">
${csrfField(ctx.session)}
<input type="hidden" name="service" value="${service.slug}">
<label for="invite-${service.slug}">Invite an organization (its slug)</label>
<input id="invite-${service.slug}" name="organization" required pattern="[a-z0-9][a-z0-9-]*">
<button type="submit">Invite to ${service.name}</button>
</form>`
    : ''
}
</section>`;
})}`,
  );
}

export function providerInstallationsPage(
  ctx: PageContext,
  provider: Installations,
  input: { plan: string; state: string; from: number; nextHref?: string; firstHref?: string },
): string {
  const page = provider.installations;
  const plans = [...new Set(provider.services.flatMap((s) => s.plans.map((p) => p.slug)))].sort();
  const rows = page?.edges.map((e) => e.node) ?? [];
  const shown = !page
    ? ''
    : rows.length === page.totalCount
      ? `${page.totalCount} installation${page.totalCount === 1 ? '' : 's'}`
      : `${input.from}–${input.from + rows.length - 1} of ${page.totalCount} installations`;
  return layout(
    ctx,
    `Installations · ${provider.name}`,
    html`<h1>Installations of ${provider.name}</h1>
${sectionNav(ctx)}
<form method="get" action="/provider/installations" class="search">
  <div class="field"><label for="plan">Plan</label><select id="plan" name="plan"><option value="">All plans</option>${plans.map(
    (p) => html`<option value="${p}"${p === input.plan ? html` selected` : ''}>${p}</option>`,
  )}</select></div>
  <div class="field"><label for="state">State</label><select id="state" name="state"><option value="">All states</option>${STATES.map(
    (s) => html`<option value="${s}"${s === input.state ? html` selected` : ''}>${s.replace('_', ' ')}</option>`,
  )}</select></div>
  <button type="submit">Filter</button>
</form>
${
  !page
    ? failed('The installations')
    : html`<p aria-live="polite">${shown}</p>
${
  rows.length === 0
    ? html`<p>No installation${input.plan || input.state ? ' matches these filters' : ' yet'}.</p>`
    : html`<table id="installations"><thead><tr><th scope="col">Add-on</th><th scope="col">Service</th><th scope="col">Plan</th><th scope="col">State</th><th scope="col">Region</th><th scope="col">Organization</th><th scope="col">Apps</th><th scope="col">Created</th><th scope="col">Updated</th><th scope="col">Last error</th></tr></thead>
<tbody>${rows.map(
        (i) =>
          html`<tr><th scope="row"><code>${i.name}</code></th><td>${i.service}</td><td>${i.plan}</td><td><span class="badge${i.state === 'FAILED' ? ' warn' : ''}">${i.state.toLowerCase().replace('_', ' ')}</span></td><td>${i.region ?? '—'}</td><td>${i.organization.name}</td><td>${i.organization.apps}</td><td>${String(i.createdAt).slice(0, 16).replace('T', ' ')}</td><td>${String(i.updatedAt).slice(0, 16).replace('T', ' ')}</td><td class="${i.lastError ? 'error' : ''}">${i.lastError ?? ''}</td></tr>`,
      )}</tbody></table>`
}
${
  input.nextHref || input.firstHref
    ? html`<nav class="pager" aria-label="Installation pages">${input.firstHref ? html`<a href="${input.firstHref}">First page</a> ` : ''}${
        input.nextHref ? html`<a href="${input.nextHref}" rel="next">Next page</a>` : ''
      }</nav>`
    : ''
}`
}`,
  );
}

const PAYOUT_STATES: Record<string, string> = {
  pending: 'to transfer',
  paid: 'transferred',
  no_account: 'waiting for your Stripe account',
  ledger_only: 'would be paid (ledger-only)',
  nothing_due: 'nothing due',
};

export function providerPayoutsPage(ctx: PageContext, provider: Payouts): string {
  const revenue = provider.revenue;
  return layout(
    ctx,
    `Payouts · ${provider.name}`,
    html`<h1>Revenue and payouts of ${provider.name}</h1>
${sectionNav(ctx)}
${
  !revenue
    ? failed('Revenue and payouts')
    : html`<p>Your share: <strong>${Math.round(revenue.revenueShare * 1000) / 10}%</strong>. ${
        revenue.mode === 'ledger-only'
          ? 'This installation bills ledger-only: payouts show what would be paid; nothing is transferred.'
          : 'Payouts are transferred to your Stripe account.'
      }</p>
${
  revenue.months.length === 0
    ? html`<p>No invoiced month yet.</p>`
    : html`<h2>Per month</h2>
<table id="revenue"><thead><tr><th scope="col">Month</th><th scope="col">Gross</th><th scope="col">Collected</th><th scope="col">Your share</th><th scope="col">Of which adjustments</th><th scope="col">Not yet paid out</th></tr></thead>
<tbody>${revenue.months.map(
        (m) =>
          html`<tr><th scope="row">${m.period}</th><td>${money(m.grossCents, m.currency)}</td><td>${money(m.collectedCents, m.currency)}</td><td>${money(m.shareCents, m.currency)}</td><td>${money(m.adjustmentsCents, m.currency)}</td><td>${money(m.unpaidOutCents, m.currency)}</td></tr>`,
      )}</tbody></table>
<h2>Payouts</h2>
<table id="payouts"><thead><tr><th scope="col">Month</th><th scope="col">#</th><th scope="col">Gross counted</th><th scope="col">Share</th><th scope="col">Amount</th><th scope="col">State</th><th scope="col">Stripe transfer</th><th scope="col">Paid</th></tr></thead>
<tbody>${revenue.months.flatMap((m) =>
        m.payouts.map(
          (p) =>
            html`<tr><th scope="row">${m.period}</th><td>${p.sequence}${p.sequence > 1 ? ' (adjustment)' : ''}</td><td>${money(p.grossCents, m.currency)}</td><td>${Math.round(p.revenueShare * 1000) / 10}%</td><td>${money(p.amountCents, m.currency)}</td><td>${PAYOUT_STATES[p.state] ?? p.state}</td><td>${p.stripeTransfer ? html`<code>${p.stripeTransfer}</code>` : '—'}</td><td>${p.paidAt ? String(p.paidAt).slice(0, 10) : '—'}</td></tr>`,
        ),
      )}</tbody></table>`
}`
}`,
  );
}
