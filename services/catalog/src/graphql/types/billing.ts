import type { Answer, CardCheckoutRequest } from '@annex/contracts/v1';
import { BrokerUnavailableError, ConflictError, ForbiddenError } from '../../apps/errors.js';
import type { BrokerApi } from '../../broker-client.js';
import { InvalidInputError, NotAuthorizedError, NotFoundError } from '../../domain/errors.js';
import { builder, needsScope } from '../builder.js';
import { orGraphQLError } from './app-errors.js';

// Billing (docs/billing.md): the organization's billing account, its invoices and an app's
// usage this month, read from the broker's `/v1/billing` API with the caller's own token;
// and the one billing change the console makes, adding a card through Stripe Checkout.

interface ApiAccount {
  organization: string;
  mode: string;
  status: string;
  pastDueSince: string | null;
  graceEndsAt: string | null;
  paymentMethod: {
    id: string;
    brand: string | null;
    last4: string | null;
    expMonth: number | null;
    expYear: number | null;
  } | null;
  spendCaps: { app: string | null; limitCents: number; spentCents: number }[];
  alerts: { app: string | null; threshold: number; month: string; spentCents: number; createdAt: string }[];
  currentMonthCents: number;
}

interface ApiInvoiceLine {
  kind: string;
  addon: string;
  app: string;
  plan: string;
  description: string;
  seconds?: number;
  unit?: string;
  quantity?: number;
  cents: number;
}

interface ApiInvoice {
  id: string;
  organization: string;
  period: string;
  state: string;
  totalCents: number;
  currency: string;
  lines: ApiInvoiceLine[];
  createdAt: string;
  paidAt: string | null;
}

interface ApiUsage {
  app: string;
  period: string;
  addons: { addon: string; plan: string; seconds: number; cents: number; capped: boolean }[];
  metered: { addon: string; unit: string; quantity: number; cents: number }[];
  totalCents: number;
}

const query = (organization: string | null | undefined) =>
  organization ? `?organization=${encodeURIComponent(organization)}` : '';
const get = <T>(broker: BrokerApi, path: string, subject: { kind: string; key: string }) =>
  broker.client.call<T>(broker.bearer, 'GET', `/billing${path}`, { subject });

const PaymentMethodRef = builder.objectRef<NonNullable<ApiAccount['paymentMethod']>>('PaymentMethod').implement({
  description: "The organization's default payment method in Stripe.",
  fields: (t) => ({
    id: t.exposeString('id'),
    brand: t.exposeString('brand', { nullable: true }),
    last4: t.exposeString('last4', { nullable: true }),
    expMonth: t.exposeInt('expMonth', {
      nullable: true,
      description: 'The card expires at the end of this month (1–12).',
    }),
    expYear: t.exposeInt('expYear', { nullable: true }),
  }),
});

const SpendCapRef = builder.objectRef<ApiAccount['spendCaps'][number]>('SpendCap').implement({
  description: 'A monthly cap on metered spend, for the organization (app null) or one app.',
  fields: (t) => ({
    app: t.exposeString('app', { nullable: true }),
    limitCents: t.exposeInt('limitCents'),
    spentCents: t.exposeInt('spentCents', { description: 'Metered spend this month.' }),
  }),
});

const SpendAlertRef = builder.objectRef<ApiAccount['alerts'][number]>('SpendAlert').implement({
  description: 'A spend cap threshold (50, 80 or 100 %) crossed in a month.',
  fields: (t) => ({
    app: t.exposeString('app', { nullable: true }),
    threshold: t.exposeInt('threshold'),
    month: t.exposeString('month'),
    spentCents: t.exposeInt('spentCents'),
    createdAt: t.exposeString('createdAt'),
  }),
});

const BillingAccountRef = builder.objectRef<ApiAccount>('BillingAccount').implement({
  description: "An organization's billing account.",
  fields: (t) => ({
    organization: t.exposeString('organization'),
    mode: t.exposeString('mode', { description: '`stripe`, or `ledger-only` (nothing is charged).' }),
    status: t.exposeString('status', { description: '`good`, `past_due` or `suspended`.' }),
    pastDueSince: t.exposeString('pastDueSince', { nullable: true }),
    graceEndsAt: t.exposeString('graceEndsAt', { nullable: true }),
    paymentMethod: t.field({ type: PaymentMethodRef, nullable: true, resolve: (a) => a.paymentMethod }),
    spendCaps: t.field({ type: [SpendCapRef], resolve: (a) => a.spendCaps }),
    alerts: t.field({ type: [SpendAlertRef], resolve: (a) => a.alerts }),
    currentMonthCents: t.exposeInt('currentMonthCents', { description: 'Charges so far this month.' }),
  }),
});

const InvoiceLineRef = builder.objectRef<ApiInvoiceLine>('InvoiceLine').implement({
  fields: (t) => ({
    kind: t.exposeString('kind', { description: '`plan` (per second, capped) or `metered`.' }),
    addon: t.exposeString('addon'),
    app: t.exposeString('app'),
    plan: t.exposeString('plan'),
    description: t.exposeString('description'),
    seconds: t.int({ nullable: true, resolve: (l) => l.seconds ?? null }),
    unit: t.string({ nullable: true, resolve: (l) => l.unit ?? null }),
    quantity: t.float({ nullable: true, resolve: (l) => l.quantity ?? null }),
    cents: t.exposeInt('cents'),
  }),
});

const InvoiceRef = builder.objectRef<ApiInvoice>('Invoice').implement({
  description: "One calendar month of an organization's charges, computed from the billing ledger.",
  fields: (t) => ({
    id: t.exposeString('id'),
    organization: t.exposeString('organization'),
    period: t.exposeString('period', { description: '`YYYY-MM`.' }),
    state: t.exposeString('state', { description: '`draft`, `open`, `paid`, `payment_failed` or `ledger_only`.' }),
    totalCents: t.exposeInt('totalCents'),
    currency: t.exposeString('currency'),
    lines: t.field({ type: [InvoiceLineRef], resolve: (i) => i.lines }),
    createdAt: t.exposeString('createdAt'),
    paidAt: t.exposeString('paidAt', { nullable: true }),
  }),
});

const AddonUsageRef = builder.objectRef<ApiUsage['addons'][number]>('AddonUsage').implement({
  fields: (t) => ({
    addon: t.exposeString('addon'),
    plan: t.exposeString('plan'),
    seconds: t.exposeInt('seconds'),
    cents: t.exposeInt('cents'),
    capped: t.exposeBoolean('capped', { description: 'The monthly price was reached.' }),
  }),
});

const MeteredUsageRef = builder.objectRef<ApiUsage['metered'][number]>('MeteredUsage').implement({
  fields: (t) => ({
    addon: t.exposeString('addon'),
    unit: t.exposeString('unit'),
    quantity: t.exposeFloat('quantity'),
    cents: t.exposeInt('cents'),
  }),
});

const AppUsageRef = builder.objectRef<ApiUsage>('AppUsage').implement({
  description: "An app's add-on charges and metered usage in one month.",
  fields: (t) => ({
    app: t.exposeString('app'),
    period: t.exposeString('period'),
    addons: t.field({ type: [AddonUsageRef], resolve: (u) => u.addons }),
    metered: t.field({ type: [MeteredUsageRef], resolve: (u) => u.metered }),
    totalCents: t.exposeInt('totalCents'),
  }),
});

builder.queryFields((t) => ({
  billingAccount: t.field({
    ...needsScope('Query.billingAccount'),
    type: BillingAccountRef,
    description: "The billing account of the caller's organization (`organization` for platform and admin tokens).",
    args: { organization: t.arg.string() },
    resolve: (_root, args, ctx) =>
      orGraphQLError(() =>
        get<ApiAccount>(ctx.broker, `/account${query(args.organization)}`, {
          kind: 'organization',
          key: args.organization ?? 'own',
        }),
      ),
  }),
  invoices: t.field({
    ...needsScope('Query.invoices'),
    type: [InvoiceRef],
    description: "The organization's invoices, newest first.",
    args: { organization: t.arg.string() },
    resolve: (_root, args, ctx) =>
      orGraphQLError(
        async () =>
          (
            await get<{ invoices: ApiInvoice[] }>(ctx.broker, `/invoices${query(args.organization)}`, {
              kind: 'organization',
              key: args.organization ?? 'own',
            })
          ).invoices,
      ),
  }),
  usage: t.field({
    ...needsScope('Query.usage'),
    type: AppUsageRef,
    // Nullable: a client asks many apps' usage in one document under aliases, and one app
    // that fails (deleted meanwhile, the broker down for it) must not null the others.
    nullable: true,
    description:
      "An app's usage and charges in a month (`YYYY-MM`, default this month); null, with the error in `errors`, when it cannot be read.",
    args: { app: t.arg.string({ required: true }), period: t.arg.string() },
    resolve: (_root, args, ctx) => {
      const params = new URLSearchParams({ app: args.app });
      if (args.period) params.set('period', args.period);
      return orGraphQLError(() => get<ApiUsage>(ctx.broker, `/usage?${params}`, { kind: 'app', key: args.app }));
    },
  }),
}));

type CardCheckout = Answer<'POST /v1/billing/card-checkout'>;

const StartCardCheckoutSuccess = builder.objectRef<CardCheckout>('StartCardCheckoutSuccess').implement({
  description:
    "Send the user's browser to `url`: Stripe Checkout's hosted page (setup mode) takes the card, and Stripe's `checkout.session.completed` webhook makes it the organization's default payment method.",
  fields: (t) => ({
    id: t.exposeString('id', { description: 'The Checkout Session, named again in `?checkout=` on return.' }),
    url: t.exposeString('url'),
  }),
});

const StartCardCheckoutInput = builder.inputType('StartCardCheckoutInput', {
  fields: (t) => ({
    returnUrl: t.string({
      required: true,
      description: 'Where Stripe sends the user back (http or https): with `?checkout=` and the session id when done.',
    }),
    organization: t.string({ description: 'The organization, for platform and admin tokens.' }),
  }),
});

builder.mutationFields((t) => ({
  startCardCheckout: t.field({
    ...needsScope('Mutation.startCardCheckout'),
    type: StartCardCheckoutSuccess,
    description:
      "Adds or replaces the organization's default card through Stripe Checkout. Refused (Conflict) when billing is ledger-only.",
    args: { input: t.arg({ type: StartCardCheckoutInput, required: true }) },
    errors: {
      types: [
        NotAuthorizedError,
        ForbiddenError,
        NotFoundError,
        InvalidInputError,
        ConflictError,
        BrokerUnavailableError,
      ],
      union: { name: 'StartCardCheckoutResult' },
    },
    resolve: (_root, { input }, ctx) => {
      const body: CardCheckoutRequest = { returnUrl: input.returnUrl };
      return ctx.broker.client.call<CardCheckout>(
        ctx.broker.bearer,
        'POST',
        `/billing/card-checkout${query(input.organization)}`,
        { body, subject: { kind: 'organization', key: input.organization ?? 'own' } },
      );
    },
  }),
}));
