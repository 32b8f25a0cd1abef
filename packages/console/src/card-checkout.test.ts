import { type FakeStripe, startFakeStripe } from '@annex/broker/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputValue } from './test-client.js';
import { type ConsoleStack, signInAsDeveloper, signInAsMember, startConsoleStack } from './testing.js';

// Adding a card from the billing page, end to end over HTTP: the console, the catalog, a
// broker in Stripe mode driving the official SDK against the local fake Stripe, whose
// Checkout page the test "fills in" and whose signed webhook reaches the broker.

const WEBHOOK_SECRET = 'whsec_console_card';

describe('adding a card through Stripe Checkout', () => {
  let stripe: FakeStripe;
  let stack: ConsoleStack;
  let ledgerOnly: ConsoleStack;
  beforeAll(async () => {
    stripe = await startFakeStripe({ apiKey: 'sk_test_console' });
    stack = await startConsoleStack({}, undefined, {
      brokerEnv: {
        STRIPE_SECRET_KEY: 'sk_test_console',
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        STRIPE_API_BASE: stripe.url,
      },
    });
    stripe.sendEventsTo(`${stack.brokerUrl}/v1/billing/stripe/webhook`, WEBHOOK_SECRET);
    ledgerOnly = await startConsoleStack();
  });
  afterAll(async () => {
    await stack?.close();
    await ledgerOnly?.close();
    await stripe?.close();
  });

  it('refuses a paid attach with a link to billing, takes a card through Checkout, then attaches', async () => {
    const client = await signInAsDeveloper(stack);
    const apps = await client.request(`${stack.consoleUrl}/apps`);
    const csrf = inputValue(apps.body, '_csrf');
    expect((await client.request(`${stack.consoleUrl}/apps`, { form: { name: 'shop', _csrf: csrf } })).status).toBe(
      303,
    );
    const attach = () =>
      client.request(`${stack.consoleUrl}/services/console-kv/attach`, {
        form: { _csrf: csrf, app: 'shop', plan: 'pro', as: 'PRO', parameters: '{}' },
      });

    // No card yet: the paid plan is refused, and the refusal links to the billing page.
    const refused = await attach();
    expect(refused.status).toBe(409);
    expect(refused.body).toContain('add a default payment method first');
    expect(refused.body).toContain('<a class="button" href="/billing#card">Add a card on the billing page</a>');
    const preflight = await client.request(
      `${stack.consoleUrl}/services/console-kv/preflight?app=shop&plan=pro&as=PRO`,
    );
    expect(preflight.body).toContain('href="/billing#card"');

    const before = await client.request(`${stack.consoleUrl}/billing`);
    expect(before.body).toContain('<dd id="payment-method">none</dd>');
    expect(before.body).toContain('<form method="post" action="/billing/card">');
    expect(before.body).toContain('>Add a card</button>');

    // The button: the broker creates the session, the browser goes to Stripe's page.
    const started = await client.request(`${stack.consoleUrl}/billing/card`, { form: { _csrf: csrf } });
    expect(started.status).toBe(303);
    const sessionId = started.location?.slice(`${stripe.url}/checkout/`.length) as string;
    expect(started.location).toBe(`${stripe.url}/checkout/${sessionId}`);
    const [customer] = stripe.list('customer');
    expect(stripe.objects.get(sessionId)).toMatchObject({
      mode: 'setup',
      customer: customer?.id,
      success_url: `${stack.consoleUrl}/billing?checkout={CHECKOUT_SESSION_ID}`,
      cancel_url: `${stack.consoleUrl}/billing`,
    });

    // The user enters a card on Stripe's page; Stripe sends the webhook and the user back.
    const completed = await stripe.completeCheckoutSession(sessionId, {
      brand: 'mastercard',
      last4: '4444',
      exp_month: 7,
      exp_year: 2030,
    });
    expect(completed.body.outcome).toBe('applied: default payment method set');
    const back = await client.request(`${stack.consoleUrl}/billing?checkout=${sessionId}`);
    expect(back.body).toContain('Stripe has taken your card');
    expect(back.body).toContain('<dd id="payment-method">mastercard ending 4444, expires 07/2030</dd>');
    expect(back.body).toContain('>Replace the card</button>');

    // The same attach now goes through.
    const attached = await attach();
    expect(attached.status, attached.body).toBe(303);
    expect(attached.location).toMatch(/\/apps\/shop\?created=console-kv-/);
  });

  it('offers the card to admins only, and none when billing is ledger-only', async () => {
    const member = await signInAsMember(stack, 'mel');
    const page = await member.request(`${stack.consoleUrl}/billing`);
    expect(page.body).toContain('An admin of demo can add or replace the card.');
    expect(page.body).not.toContain('action="/billing/card"');
    const sessions = stripe.list('checkout.session').length;
    const refused = await member.request(`${stack.consoleUrl}/billing/card`, {
      form: { _csrf: inputValue(page.body, '_csrf') },
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('Adding a card needs the admin role in demo');
    expect(stripe.list('checkout.session')).toHaveLength(sessions);

    const admin = await signInAsDeveloper(ledgerOnly);
    const ledger = await admin.request(`${ledgerOnly.consoleUrl}/billing`);
    expect(ledger.body).toContain('Billing is ledger-only on this installation');
    expect(ledger.body).not.toContain('action="/billing/card"');
    // A form posted anyway is refused with the broker's reason; nothing is created.
    const posted = await admin.request(`${ledgerOnly.consoleUrl}/billing/card`, {
      form: { _csrf: inputValue(ledger.body, '_csrf') },
    });
    expect(posted.status).toBe(409);
    expect(posted.body).toContain('billing is ledger-only');
  });
});
