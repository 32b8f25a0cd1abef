import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

// A local stand-in for the Stripe API, for tests that drive the official SDK over HTTP
// (its host/port/protocol options). It implements the endpoints billing uses, with Stripe's
// form-encoded requests, object shapes and error envelope, and honours Idempotency-Key: a
// repeated key replays the first answer; the same key with other parameters is refused.

type StripeObject = Record<string, unknown> & { id: string; object: string };

export interface FakeStripe {
  url: string;
  /** Every object created, by id. */
  objects: Map<string, StripeObject>;
  /** Every request: method, path, idempotency key, whether it was replayed. */
  requests: { method: string; path: string; idempotencyKey?: string; replayed: boolean }[];
  /** Objects of one kind (`invoice`, `invoiceitem`, `transfer`, `customer`…). */
  list(kind: string): StripeObject[];
  /** Where events go (the broker's webhook endpoint), signed with `secret`. */
  sendEventsTo(url: string, secret: string): void;
  /**
   * What the user does on a Checkout page in setup mode: enters `card`, which Stripe
   * attaches to the session's customer through a succeeded SetupIntent; the session is
   * complete and `checkout.session.completed` goes to the webhook endpoint.
   */
  completeCheckoutSession(
    sessionId: string,
    card?: { brand: string; last4: string; exp_month: number; exp_year: number },
  ): Promise<Delivery>;
  /** Sends an event (again, as Stripe redelivers) to the webhook endpoint. */
  deliver(event: StripeObject): Promise<Delivery>;
  close(): Promise<void>;
}

/** An event sent to the webhook endpoint, and the endpoint's answer. */
export interface Delivery {
  event: StripeObject;
  status: number;
  body: any;
}

/** `a[b][c]=v&a[d][]=w` → nested objects, like Stripe's (and qs's) form encoding. */
export function parseForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!body) return out;
  for (const pair of body.split('&')) {
    const [rawKey, rawValue = ''] = pair.split('=');
    const key = decodeURIComponent((rawKey ?? '').replace(/\+/g, ' '));
    const value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    const path = key.split(/\[|\]\[|\]/).filter((p, i) => i === 0 || p !== '' || key.endsWith('[]'));
    let node: Record<string, unknown> = out;
    for (let i = 0; i < path.length; i++) {
      const part = path[i] as string;
      const last = i === path.length - 1;
      if (last) {
        if (part === '' && Array.isArray(node)) (node as unknown as unknown[]).push(value);
        else node[part] = value;
      } else {
        const nextIsArray = path[i + 1] === '' || /^\d+$/.test(path[i + 1] as string);
        node[part] ??= nextIsArray ? [] : {};
        node = node[part] as Record<string, unknown>;
      }
    }
  }
  return out;
}

const id = (prefix: string) => `${prefix}_${randomBytes(10).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

export async function startFakeStripe(options: { apiKey?: string } = {}): Promise<FakeStripe> {
  const objects = new Map<string, StripeObject>();
  const requests: FakeStripe['requests'] = [];
  const idempotent = new Map<string, { hash: string; status: number; body: unknown }>();

  const fail = (status: number, type: string, message: string, code?: string) => ({
    status,
    body: { error: { type, message, ...(code ? { code } : {}) } },
  });
  const get = (oid: string, object: string) => {
    const found = objects.get(oid);
    return found && found.object === object ? found : undefined;
  };
  let base = () => '';
  let webhook: { url: string; secret: string } | undefined;
  /** `field` as its object when `expand[]` (or `expand[0]`…) names it, as Stripe does. */
  const expand = (o: StripeObject, params: Record<string, unknown>, field: string) => {
    const named = Object.entries(params).some(([k, v]) => /^expand(\[\d*\])?$/.test(k) && v === field);
    const target = typeof o[field] === 'string' ? objects.get(o[field] as string) : undefined;
    return named && target ? { ...o, [field]: target } : o;
  };
  const save = (o: StripeObject) => {
    objects.set(o.id, o);
    return { status: 200, body: o };
  };

  function route(method: string, path: string, params: Record<string, unknown>): { status: number; body: unknown } {
    let m: RegExpExecArray | null;
    const metadata = (params.metadata as Record<string, string> | undefined) ?? {};
    if (method === 'POST' && path === '/v1/customers') {
      return save({
        id: id('cus'),
        object: 'customer',
        created: now(),
        name: params.name ?? null,
        metadata,
        invoice_settings: { default_payment_method: null },
      });
    }
    m = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (m) {
      const customer = get(m[1] as string, 'customer');
      if (!customer) return fail(404, 'invalid_request_error', `No such customer: '${m[1]}'`, 'resource_missing');
      if (method === 'GET') return { status: 200, body: customer };
      const settings = params.invoice_settings as Record<string, string> | undefined;
      if (settings?.default_payment_method !== undefined) {
        const pm = get(settings.default_payment_method, 'payment_method');
        if (!pm || pm.customer !== customer.id) {
          return fail(400, 'invalid_request_error', `No such PaymentMethod: '${settings.default_payment_method}'`);
        }
        customer.invoice_settings = { default_payment_method: settings.default_payment_method };
      }
      return save(customer);
    }
    if (method === 'POST' && path === '/v1/setup_intents') {
      if (!get(String(params.customer), 'customer')) {
        return fail(400, 'invalid_request_error', `No such customer: '${String(params.customer)}'`);
      }
      const sid = id('seti');
      return save({
        id: sid,
        object: 'setup_intent',
        client_secret: `${sid}_secret_${randomBytes(8).toString('hex')}`,
        customer: params.customer,
        usage: params.usage ?? 'off_session',
        status: 'requires_payment_method',
        payment_method: null,
        metadata,
      });
    }
    m = /^\/v1\/setup_intents\/([^/]+)$/.exec(path);
    if (m && method === 'GET') {
      const intent = get(m[1] as string, 'setup_intent');
      return intent
        ? { status: 200, body: expand(intent, params, 'payment_method') }
        : fail(404, 'invalid_request_error', `No such setupintent: '${m[1]}'`, 'resource_missing');
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      if (params.mode !== 'setup') return fail(400, 'invalid_request_error', 'Only mode=setup is implemented here.');
      if (!get(String(params.customer), 'customer')) {
        return fail(400, 'invalid_request_error', `No such customer: '${String(params.customer)}'`);
      }
      for (const field of ['success_url', 'cancel_url', 'currency']) {
        if (typeof params[field] !== 'string' || params[field] === '') {
          return fail(400, 'invalid_request_error', `Missing required param: ${field}.`, 'parameter_missing');
        }
      }
      const sid = id('cs_test');
      return save({
        id: sid,
        object: 'checkout.session',
        mode: 'setup',
        status: 'open',
        customer: params.customer,
        currency: params.currency,
        success_url: params.success_url,
        cancel_url: params.cancel_url,
        url: `${base()}/checkout/${sid}`,
        setup_intent: null,
        setup_intent_data: params.setup_intent_data ?? null,
        metadata,
        created: now(),
      });
    }
    m = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path);
    if (m && method === 'GET') {
      const session = get(m[1] as string, 'checkout.session');
      return session
        ? { status: 200, body: expand(session, params, 'setup_intent') }
        : fail(404, 'invalid_request_error', `No such checkout.session: '${m[1]}'`, 'resource_missing');
    }
    m = /^\/v1\/payment_methods\/([^/]+)\/attach$/.exec(path);
    if (m && method === 'POST') {
      const pmId = m[1] as string;
      if (!get(String(params.customer), 'customer')) {
        return fail(400, 'invalid_request_error', `No such customer: '${String(params.customer)}'`);
      }
      if (pmId.includes('chargeDeclined')) return fail(402, 'card_error', 'Your card was declined.', 'card_declined');
      if (!pmId.startsWith('pm_')) return fail(404, 'invalid_request_error', `No such PaymentMethod: '${pmId}'`);
      return save({
        id: pmId,
        object: 'payment_method',
        type: 'card',
        card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034 },
        customer: params.customer,
      });
    }
    m = /^\/v1\/payment_methods\/([^/]+)$/.exec(path);
    if (m && method === 'GET') {
      const pm = get(m[1] as string, 'payment_method');
      return pm ? { status: 200, body: pm } : fail(404, 'invalid_request_error', `No such PaymentMethod: '${m[1]}'`);
    }
    if (method === 'POST' && path === '/v1/invoices') {
      if (!get(String(params.customer), 'customer')) {
        return fail(400, 'invalid_request_error', `No such customer: '${String(params.customer)}'`);
      }
      return save({
        id: id('in'),
        object: 'invoice',
        created: now(),
        customer: params.customer,
        currency: params.currency ?? 'usd',
        status: 'draft',
        auto_advance: params.auto_advance === 'true',
        collection_method: params.collection_method ?? 'charge_automatically',
        description: params.description ?? null,
        metadata,
        amount_due: 0,
        total: 0,
        lines: { object: 'list', data: [], has_more: false, url: '' },
      });
    }
    m = /^\/v1\/invoices\/([^/]+)\/finalize$/.exec(path);
    if (m && method === 'POST') {
      const invoice = get(m[1] as string, 'invoice');
      if (!invoice) return fail(404, 'invalid_request_error', `No such invoice: '${m[1]}'`, 'resource_missing');
      if (invoice.status !== 'draft') {
        return fail(400, 'invalid_request_error', `This invoice is already finalized.`, 'invoice_not_editable');
      }
      invoice.status = 'open';
      invoice.auto_advance = params.auto_advance === 'true';
      return save(invoice);
    }
    m = /^\/v1\/invoices\/([^/]+)$/.exec(path);
    if (m && method === 'GET') {
      const invoice = get(m[1] as string, 'invoice');
      return invoice
        ? { status: 200, body: invoice }
        : fail(404, 'invalid_request_error', `No such invoice: '${m[1]}'`);
    }
    if (method === 'POST' && path === '/v1/invoiceitems') {
      const invoice = params.invoice ? get(String(params.invoice), 'invoice') : undefined;
      if (params.invoice && !invoice)
        return fail(400, 'invalid_request_error', `No such invoice: '${String(params.invoice)}'`);
      if (invoice && invoice.status !== 'draft') {
        return fail(400, 'invalid_request_error', 'You can only add invoice items to draft invoices.');
      }
      const amount = Number(params.amount);
      if (!Number.isInteger(amount)) return fail(400, 'invalid_request_error', 'Invalid integer: amount');
      const item = {
        id: id('ii'),
        object: 'invoiceitem',
        amount,
        currency: params.currency,
        customer: params.customer,
        description: params.description ?? null,
        invoice: invoice?.id ?? null,
        metadata,
      };
      if (invoice) {
        invoice.amount_due = Number(invoice.amount_due) + amount;
        invoice.total = Number(invoice.total) + amount;
      }
      return save(item);
    }
    if (method === 'GET' && path === '/v1/transfers') {
      // Newest first, filtered by transfer_group, paged with limit and starting_after, as Stripe does.
      const limit = Math.min(Number(params.limit ?? 10), 100);
      const all = [...objects.values()]
        .filter(
          (o) => o.object === 'transfer' && (!params.transfer_group || o.transfer_group === params.transfer_group),
        )
        .reverse();
      const start = params.starting_after ? all.findIndex((o) => o.id === params.starting_after) + 1 : 0;
      const data = all.slice(start, start + limit);
      return {
        status: 200,
        body: { object: 'list', url: '/v1/transfers', has_more: start + limit < all.length, data },
      };
    }
    if (method === 'POST' && path === '/v1/transfers') {
      const amount = Number(params.amount);
      if (!Number.isInteger(amount) || amount <= 0) return fail(400, 'invalid_request_error', 'Invalid amount');
      if (!String(params.destination).startsWith('acct_')) {
        return fail(400, 'invalid_request_error', `No such destination: '${String(params.destination)}'`);
      }
      return save({
        id: id('tr'),
        object: 'transfer',
        amount,
        currency: params.currency,
        destination: params.destination,
        transfer_group: params.transfer_group ?? null,
        metadata,
        created: now(),
      });
    }
    return fail(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method ?? 'GET';
      const key = req.headers['idempotency-key'] as string | undefined;
      const answer = (status: number, payload: unknown, replayed: boolean) => {
        requests.push({ method, path: url.pathname, ...(key ? { idempotencyKey: key } : {}), replayed });
        res.writeHead(status, {
          'content-type': 'application/json',
          'request-id': id('req'),
          ...(key ? { 'idempotency-key': key } : {}),
          ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
        });
        res.end(JSON.stringify(payload));
      };
      // The hosted Checkout page a browser is sent to: a card form that completes the session
      // as `completeCheckoutSession` does, then goes back to the session's success URL.
      const hosted = /^\/checkout\/([A-Za-z0-9_]+)$/.exec(url.pathname);
      if (hosted) {
        const sessionId = hosted[1] as string;
        const session = get(sessionId, 'checkout.session');
        if (!session || session.status !== 'open') {
          res.writeHead(404, { 'content-type': 'text/html' });
          res.end('<!doctype html><title>Checkout</title><h1>This Checkout Session is not open</h1>');
          return;
        }
        if (method === 'GET') {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end(`<!doctype html><html lang="en"><title>Fake Stripe Checkout</title><h1>Add a card</h1>
<form method="post"><label>Card brand <select name="brand"><option>visa</option><option>mastercard</option></select></label>
<label>Last 4 digits <input name="last4" value="4242"></label><label>Expiry month <input name="exp_month" value="12"></label>
<label>Expiry year <input name="exp_year" value="2034"></label><button type="submit">Save card</button></form></html>`);
          return;
        }
        const form = new URLSearchParams(body);
        void fake
          .completeCheckoutSession(sessionId, {
            brand: form.get('brand') ?? 'visa',
            last4: form.get('last4') ?? '4242',
            exp_month: Number(form.get('exp_month') ?? 12),
            exp_year: Number(form.get('exp_year') ?? 2034),
          })
          .then(() => {
            res.writeHead(303, { location: String(session.success_url).replace('{CHECKOUT_SESSION_ID}', sessionId) });
            res.end();
          });
        return;
      }
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || (options.apiKey && auth !== `Bearer ${options.apiKey}`)) {
        const f = fail(401, 'invalid_request_error', 'Invalid API Key provided');
        answer(f.status, f.body, false);
        return;
      }
      const params = method === 'GET' ? Object.fromEntries(url.searchParams) : parseForm(body);
      const hash = createHash('sha256').update(`${method} ${url.pathname} ${body}`).digest('hex');
      if (key && method === 'POST') {
        const seen = idempotent.get(key);
        if (seen) {
          if (seen.hash !== hash) {
            const f = fail(
              400,
              'idempotency_error',
              `Keys for idempotent requests can only be used with the same parameters they were first used with.`,
            );
            answer(f.status, f.body, false);
            return;
          }
          answer(seen.status, seen.body, true);
          return;
        }
      }
      const result = route(method, url.pathname, params);
      if (key && method === 'POST' && result.status < 500) idempotent.set(key, { hash, ...result });
      answer(result.status, result.body, false);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  base = () => url;
  const signer = new Stripe('sk_test_signer_only');
  const deliver = async (event: StripeObject): Promise<Delivery> => {
    if (!webhook) throw new Error('the fake Stripe has no webhook endpoint (sendEventsTo)');
    const payload = JSON.stringify(event);
    const header = signer.webhooks.generateTestHeaderString({ payload, secret: webhook.secret });
    const response = await fetch(webhook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': header },
      body: payload,
    });
    return { event, status: response.status, body: await response.json() };
  };
  const fake: FakeStripe = {
    url,
    objects,
    requests,
    list: (kind) => [...objects.values()].filter((o) => o.object === kind),
    sendEventsTo(endpoint, secret) {
      webhook = { url: endpoint, secret };
    },
    async completeCheckoutSession(sessionId, card = { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034 }) {
      const session = get(sessionId, 'checkout.session');
      if (!session || session.status !== 'open') throw new Error(`no open Checkout Session ${sessionId}`);
      const method = save({
        id: id('pm'),
        object: 'payment_method',
        type: 'card',
        card,
        customer: session.customer,
      }).body;
      const intent = save({
        id: id('seti'),
        object: 'setup_intent',
        customer: session.customer,
        usage: 'off_session',
        status: 'succeeded',
        payment_method: method.id,
        metadata: (session.setup_intent_data as { metadata?: unknown } | null)?.metadata ?? {},
        created: now(),
      }).body;
      Object.assign(session, { status: 'complete', setup_intent: intent.id });
      return deliver({
        id: id('evt'),
        object: 'event',
        api_version: '2026-10-28.endive',
        created: now(),
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type: 'checkout.session.completed',
        data: { object: { ...session } },
      });
    },
    deliver,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
