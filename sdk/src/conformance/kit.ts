import { randomUUID } from 'node:crypto';
import type * as z from 'zod';
import {
  asyncResponse,
  bindResponse,
  catalogResponse,
  emptyResponse,
  errorResponse,
  fetchInstanceResponse,
  lastOperationResponse,
  type OsbCatalogPlan,
  type OsbCatalogService,
  provisionResponse,
  responseProblem,
  updateResponse,
} from '../osb/contract.js';
import type { ConformanceBroker, TokenOverrides } from './broker.js';
import { invalidParameters, sampleFromSchema } from './sample.js';

/**
 * `pass`, `fail`; `warn` is a SHOULD of the spec missed (does not fail the run); `skip` is not applicable.
 *
 * @example
 * const failed = report.checks.filter((check) => check.status === ('fail' satisfies CheckStatus));
 */
export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

/**
 * One check of the kit and why it passed or failed.
 *
 * @example
 * runConformance({ ...options, onCheck: (check: CheckResult) => console.log(check.status, check.name) });
 */
export interface CheckResult {
  name: string;
  status: CheckStatus;
  reason: string;
}

/**
 * The kit's report. `ok` is false when any check failed.
 *
 * @example
 * const report: ConformanceReport = await runConformance(options);
 * process.exitCode = report.ok ? 0 : 1;
 */
export interface ConformanceReport {
  ok: boolean;
  url: string;
  mode: 'jwt' | 'basic';
  checks: CheckResult[];
  summary: Record<CheckStatus, number>;
}

/**
 * How the kit authenticates: as the broker (JWT), or with basic auth for plain OSB brokers.
 *
 * @example
 * const auth: ConformanceAuth = { kind: 'basic', username: 'broker', password: 'secret' };
 */
export type ConformanceAuth =
  | { kind: 'jwt'; broker: ConformanceBroker; audience: string }
  | { kind: 'basic'; username: string; password: string };

/**
 * Options of {@link runConformance}.
 *
 * @example
 * const options: ConformanceOptions = { url: 'http://127.0.0.1:4100', auth, pollIntervalMs: 500 };
 */
export interface ConformanceOptions {
  /** The provider's OSB base URL (the kit calls `${url}/v2/...`). */
  url: string;
  auth: ConformanceAuth;
  /** Delay between `last_operation` polls (default 250 ms). */
  pollIntervalMs?: number;
  /** Give up on an async operation after this long (default: the plan's maximum_polling_duration, else 60 s). */
  operationTimeoutMs?: number;
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number;
  /** Called as each check ends (the CLI prints them live). */
  onCheck?: (check: CheckResult) => void;
}

interface Answer {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

interface SendOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  rawBody?: string;
  /** `valid` (default), `none`, a literal Authorization header, or token overrides for a forged JWT. */
  auth?: 'valid' | 'none' | { header: string } | { overrides: TokenOverrides };
  version?: string | null;
  headers?: Record<string, string>;
}

const ORG = 'annex-conformance-org';
const SPACE = 'annex-conformance-space';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const excerpt = (answer: Answer) => (answer.text.length > 200 ? `${answer.text.slice(0, 200)}...` : answer.text);

/**
 * Runs the conformance kit against a running provider: catalog, authentication (tampered,
 * expired, replayed, wrong-audience tokens...), version header, the whole lifecycle of every
 * plan sync and async, idempotency, and the negative cases. Never throws for a provider fault:
 * each becomes a failed check with its reason.
 *
 * @example
 * const broker = await startConformanceBroker({ port: 4999 });
 * const report = await runConformance({ url: 'http://127.0.0.1:4100', auth: { kind: 'jwt', broker, audience: 'acme' } });
 * console.log(formatReport(report));
 * process.exitCode = report.ok ? 0 : 1;
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const base = options.url.replace(/\/+$/, '');
  const basePath = new URL(base).pathname.replace(/\/+$/, '');
  const pollInterval = options.pollIntervalMs ?? 250;
  const checks: CheckResult[] = [];

  const record = (name: string, status: CheckStatus, reason: string) => {
    const check = { name, status, reason };
    checks.push(check);
    options.onCheck?.(check);
    return status === 'pass' || status === 'warn' || status === 'skip';
  };

  async function authorization(method: string, path: string, auth: SendOptions['auth']): Promise<string | undefined> {
    if (auth === 'none') return undefined;
    if (auth && typeof auth === 'object' && 'header' in auth) return auth.header;
    const a = options.auth;
    if (a.kind === 'basic') return `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
    const overrides = auth && typeof auth === 'object' ? auth.overrides : undefined;
    return `Bearer ${await a.broker.requestToken(a.audience, method, `${basePath}${path}`, overrides)}`;
  }

  async function send(method: string, path: string, opts: SendOptions = {}): Promise<Answer> {
    const query = Object.entries(opts.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined);
    const url = `${base}${path}${query.length > 0 ? `?${new URLSearchParams(query)}` : ''}`;
    const headers: Record<string, string> = { Accept: 'application/json', ...(opts.headers ?? {}) };
    const auth = await authorization(method, path, opts.auth);
    if (auth) headers.Authorization = auth;
    if (opts.version !== null) headers['X-Broker-API-Version'] = opts.version ?? '2.17';
    let body: string | undefined;
    if (opts.rawBody !== undefined || opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = opts.rawBody ?? JSON.stringify(opts.body);
    }
    const response = await fetch(url, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(options.requestTimeoutMs ?? 30_000),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed, text, headers: response.headers };
  }

  /** Records a check on an answer: its status among `allowed`, then its body shape. */
  function expectAnswer(
    name: string,
    answer: Answer,
    allowed: number[],
    shape?: z.ZodType,
    severity: 'fail' | 'warn' = 'fail',
  ): boolean {
    if (!allowed.includes(answer.status)) {
      return record(name, severity, `expected ${allowed.join(' or ')}, got ${answer.status}: ${excerpt(answer)}`);
    }
    const problem = shape ? responseProblem(shape, answer.body) : undefined;
    if (problem) return record(name, severity, `${answer.status}, but ${problem}: ${excerpt(answer)}`);
    return record(name, 'pass', `${answer.status}`);
  }

  const errorCheck = (name: string, answer: Answer, status: number, severity: 'fail' | 'warn' = 'fail') =>
    expectAnswer(name, answer, [status], errorResponse, severity);

  async function guarded(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message;
      record(name, 'fail', `request failed: ${(error as Error).message}${why ? ` (${why})` : ''}`);
    }
  }

  /** Polls last_operation until a terminal state; returns it, `gone` (410), or undefined after a failure. */
  async function poll(
    name: string,
    path: string,
    service: OsbCatalogService,
    planId: string,
    operation: string | undefined,
    timeoutMs: number,
  ): Promise<'succeeded' | 'failed' | 'gone' | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await send('GET', `${path}/last_operation`, {
        query: { service_id: service.id, plan_id: planId, operation },
      });
      if (answer.status === 410) return 'gone';
      if (answer.status !== 200 || responseProblem(lastOperationResponse, answer.body)) {
        record(name, 'fail', `last_operation: expected 200 with {state}, got ${answer.status}: ${excerpt(answer)}`);
        return undefined;
      }
      const state = (answer.body as { state: string }).state;
      if (state !== 'in progress') return state as 'succeeded' | 'failed';
      if (Date.now() > deadline) {
        record(name, 'fail', `still "in progress" after ${Math.round(timeoutMs / 1000)} s`);
        return undefined;
      }
      await sleep(pollInterval);
    }
  }

  /** Waits for a 202's operation to succeed, recording the outcome under `name`. */
  async function settle(
    name: string,
    answer: Answer,
    path: string,
    service: OsbCatalogService,
    planId: string,
    timeoutMs: number,
    goneIsSuccess: boolean,
  ): Promise<boolean> {
    if (answer.status !== 202) return answer.status < 300;
    const operation = (answer.body as { operation?: string } | undefined)?.operation;
    const end = await poll(name, path, service, planId, operation, timeoutMs);
    if (end === undefined) return false;
    if (end === 'succeeded' || (end === 'gone' && goneIsSuccess)) return record(`${name} completes`, 'pass', end);
    return record(`${name} completes`, 'fail', `last_operation ended "${end}"`);
  }

  // ---- catalog ---------------------------------------------------------------------
  let catalog: z.infer<typeof catalogResponse> | undefined;
  await guarded('catalog', async () => {
    const requestIdentity = randomUUID();
    const answer = await send('GET', '/v2/catalog', { headers: { 'X-Broker-API-Request-Identity': requestIdentity } });
    if (expectAnswer('catalog: GET /v2/catalog answers 200 with a valid OSB catalog', answer, [200], catalogResponse)) {
      catalog = answer.body as z.infer<typeof catalogResponse>;
    }
    const echoed = answer.headers.get('X-Broker-API-Request-Identity');
    record(
      'catalog: echoes X-Broker-API-Request-Identity',
      echoed === requestIdentity ? 'pass' : 'warn',
      echoed === requestIdentity ? 'echoed' : `sent ${requestIdentity}, got ${echoed ?? 'nothing'}`,
    );
  });

  // ---- authentication and version header --------------------------------------------
  await guarded('authentication', async () => {
    const get = (opts: SendOptions) => send('GET', '/v2/catalog', opts);
    errorCheck('auth: no credentials → 401', await get({ auth: 'none' }), 401);
    if (options.auth.kind === 'basic') {
      const wrong = `Basic ${Buffer.from(`${options.auth.username}:wrong-${randomUUID()}`).toString('base64')}`;
      errorCheck('auth: wrong basic password → 401', await get({ auth: { header: wrong } }), 401);
      return;
    }
    const { broker, audience } = options.auth;
    const path = `${basePath}/v2/catalog`;
    const nowSeconds = Math.floor(Date.now() / 1000);
    errorCheck('auth: garbage bearer token → 401', await get({ auth: { header: 'Bearer not-a-jwt' } }), 401);
    const valid = await broker.requestToken(audience, 'GET', path);
    const [header, payload, signature] = valid.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const tamperedPayload = Buffer.from(JSON.stringify({ ...claims, aud: audience, sub: 'attacker' })).toString(
      'base64url',
    );
    errorCheck(
      'auth: tampered JWT payload → 401',
      await get({ auth: { header: `Bearer ${header}.${tamperedPayload}.${signature}` } }),
      401,
    );
    errorCheck(
      'auth: JWT signed by another key under the broker kid → 401',
      await get({ auth: { overrides: { key: 'forged' } } }),
      401,
    );
    errorCheck(
      'auth: JWT signed by a key the JWKS does not publish → 401',
      await get({ auth: { overrides: { key: 'unknown-kid' } } }),
      401,
    );
    errorCheck(
      'auth: expired JWT → 401',
      await get({ auth: { overrides: { iat: nowSeconds - 600, exp: nowSeconds - 300 } } }),
      401,
    );
    errorCheck('auth: wrong audience → 401', await get({ auth: { overrides: { aud: `${audience}-other` } } }), 401);
    errorCheck(
      'auth: wrong issuer → 401',
      await get({ auth: { overrides: { iss: 'http://127.0.0.1:1/not-the-broker' } } }),
      401,
    );
    errorCheck('auth: JWT for another method (htm) → 401', await get({ auth: { overrides: { htm: 'DELETE' } } }), 401);
    errorCheck(
      'auth: JWT for another path (htp) → 401',
      await get({ auth: { overrides: { htp: `${basePath}/v2/other` } } }),
      401,
    );
    errorCheck(
      'auth: JWT living longer than 5 minutes → 401',
      await get({ auth: { overrides: { iat: nowSeconds, exp: nowSeconds + 3600 } } }),
      401,
    );
    const once = `Bearer ${await broker.requestToken(audience, 'GET', path)}`;
    const first = await get({ auth: { header: once } });
    if (expectAnswer('auth: fresh JWT accepted', first, [200])) {
      errorCheck('auth: replayed JWT (same jti) → 401', await get({ auth: { header: once } }), 401);
    }
    expectAnswer(
      'auth: JWT issued 10 s in the future accepted (clock skew)',
      await get({ auth: { overrides: { iat: nowSeconds + 10, exp: nowSeconds + 70 } } }),
      [200],
      undefined,
      'warn', // the allowed skew is the provider's choice (the SDK's default is 30 s)
    );
  });

  await guarded('version header', async () => {
    errorCheck('version: missing X-Broker-API-Version → 412', await send('GET', '/v2/catalog', { version: null }), 412);
    errorCheck('version: X-Broker-API-Version 1.0 → 412', await send('GET', '/v2/catalog', { version: '1.0' }), 412);
  });

  // ---- per service and plan -----------------------------------------------------------
  for (const service of catalog?.services ?? []) {
    for (const plan of service.plans) {
      const label = `[${service.name}/${plan.name}]`;
      const timeout = options.operationTimeoutMs ?? (plan.maximum_polling_duration ?? 60) * 1000;
      await guarded(`${label} negative cases`, () => negativeCases(label, service, plan, plan === service.plans[0]));
      await guarded(`${label} sync lifecycle`, () => lifecycle(label, service, plan, false, timeout));
      await guarded(`${label} async lifecycle`, () => lifecycle(label, service, plan, true, timeout));
    }
  }

  function provisionBody(service: OsbCatalogService, plan: OsbCatalogPlan, extra: Record<string, unknown> = {}) {
    return {
      service_id: service.id,
      plan_id: plan.id,
      organization_guid: ORG,
      space_guid: SPACE,
      context: { platform: 'annex', organization_guid: ORG, space_guid: SPACE },
      parameters: sampleFromSchema(plan.schemas?.service_instance?.create?.parameters) ?? {},
      ...extra,
    };
  }

  async function negativeCases(label: string, service: OsbCatalogService, plan: OsbCatalogPlan, first: boolean) {
    const id = randomUUID();
    const path = `/v2/service_instances/${id}`;
    const put = (body: unknown) => send('PUT', path, { body, query: { accepts_incomplete: 'true' } });
    const invalid = invalidParameters(plan.schemas?.service_instance?.create?.parameters);
    if (invalid) {
      errorCheck(
        `${label} provision with invalid parameters (${invalid.field}) → 400`,
        await put(provisionBody(service, plan, { parameters: invalid.parameters })),
        400,
      );
    } else {
      record(`${label} provision with invalid parameters → 400`, 'skip', 'the plan has no parameter schema to violate');
    }
    if (first) {
      errorCheck(
        `${label} provision with an unknown plan_id → 400`,
        await put(provisionBody(service, plan, { plan_id: `annex-conformance-unknown-${randomUUID()}` })),
        400,
      );
      for (const field of ['service_id', 'plan_id', 'organization_guid', 'space_guid']) {
        const body: Record<string, unknown> = provisionBody(service, plan);
        delete body[field];
        errorCheck(`${label} provision without ${field} → 400`, await put(body), 400);
      }
      errorCheck(
        `${label} provision with a malformed JSON body → 400`,
        await send('PUT', path, { rawBody: '{"service_id": ', query: { accepts_incomplete: 'true' } }),
        400,
      );
      errorCheck(
        `${label} deprovision of an unknown instance → 410`,
        await send('DELETE', path, { query: { service_id: service.id, plan_id: plan.id } }),
        410,
      );
      const unknownPoll = await send('GET', `${path}/last_operation`, {
        query: { service_id: service.id, plan_id: plan.id },
      });
      expectAnswer(
        `${label} last_operation of an unknown instance → 404 or 410`,
        unknownPoll,
        [404, 410],
        errorResponse,
      );
      if (service.instances_retrievable) {
        errorCheck(`${label} fetch of an unknown instance → 404`, await send('GET', path), 404);
      }
    }
    // A 4xx must leave nothing behind: the same id provisions afresh.
    const fresh = await put(provisionBody(service, plan));
    if (
      expectAnswer(
        `${label} rejected requests left no state (same id provisions afresh)`,
        fresh,
        [201, 202],
        provisionResponse,
      )
    ) {
      await settle(`${label} provision after rejected requests`, fresh, path, service, plan.id, 60_000, false);
      const gone = await send('DELETE', path, {
        query: { service_id: service.id, plan_id: plan.id, accepts_incomplete: 'true' },
      });
      await settle(`${label} cleanup deprovision`, gone, path, service, plan.id, 60_000, true);
    }
  }

  async function lifecycle(
    label: string,
    service: OsbCatalogService,
    plan: OsbCatalogPlan,
    async: boolean,
    timeout: number,
  ) {
    const mode = async ? 'async' : 'sync';
    const name = (step: string) => `${label} ${mode}: ${step}`;
    const id = randomUUID();
    const path = `/v2/service_instances/${id}`;
    const incomplete: Record<string, string> = async ? { accepts_incomplete: 'true' } : {};
    const body = provisionBody(service, plan);
    const identity = `annex ${Buffer.from(JSON.stringify({ user_id: 'annex-conformance' })).toString('base64')}`;

    const created = await send('PUT', path, {
      body,
      query: incomplete,
      headers: { 'X-Broker-API-Originating-Identity': identity },
    });
    if (
      !async &&
      created.status === 422 &&
      (created.body as { error?: string } | undefined)?.error === 'AsyncRequired'
    ) {
      record(name('provision'), 'skip', 'the plan only provisions asynchronously (422 AsyncRequired), as allowed');
      return;
    }
    if (!async && created.status === 202) {
      record(name('provision'), 'fail', '202 without accepts_incomplete=true (must be 201 or 422 AsyncRequired)');
      return;
    }
    const ok = expectAnswer(
      name(`provision → 201${async ? ' or 202' : ''}`),
      created,
      async ? [201, 202] : [201],
      created.status === 202 ? asyncResponse : provisionResponse,
    );
    if (!ok) return;
    const wasAsync = created.status === 202;
    if (wasAsync) {
      const redelivered = await send('PUT', path, { body, query: incomplete });
      const sameOperation =
        redelivered.status === 200 ||
        (redelivered.status === 202 &&
          (redelivered.body as { operation?: string } | undefined)?.operation ===
            (created.body as { operation?: string } | undefined)?.operation);
      record(
        name('duplicate delivery while provisioning → 202 with the same operation (or 200 once done)'),
        sameOperation ? 'pass' : 'fail',
        `${redelivered.status}: ${excerpt(redelivered)}`,
      );
      if (!(await settle(name('provision'), created, path, service, plan.id, timeout, false))) return;
    }
    expectAnswer(
      name('duplicate delivery (identical PUT) → 200'),
      await send('PUT', path, { body, query: incomplete }),
      [200],
      provisionResponse,
    );
    errorCheck(
      name('same id, other attributes → 409'),
      await send('PUT', path, { body: { ...body, space_guid: `${SPACE}-other` }, query: incomplete }),
      409,
    );
    let planId = plan.id;
    if (service.instances_retrievable) {
      const fetched = await send('GET', path, { query: { service_id: service.id, plan_id: planId } });
      if (expectAnswer(name('fetch instance → 200'), fetched, [200], fetchInstanceResponse)) {
        const got = (fetched.body as { plan_id?: string }).plan_id;
        record(name('fetched instance has its plan_id'), got === planId ? 'pass' : 'fail', `plan_id ${got}`);
      }
    }

    // Update: the update schema's sample (or no parameters), then a plan change where allowed.
    const updateParameters = sampleFromSchema(plan.schemas?.service_instance?.update?.parameters);
    const updated = await send('PATCH', path, {
      body: {
        service_id: service.id,
        plan_id: planId,
        parameters: updateParameters ?? {},
        previous_values: { plan_id: planId, service_id: service.id },
      },
      query: incomplete,
    });
    if (
      !async &&
      updated.status === 422 &&
      (updated.body as { error?: string } | undefined)?.error === 'AsyncRequired'
    ) {
      record(name('update'), 'skip', 'updates are asynchronous only (422 AsyncRequired)');
    } else if (
      expectAnswer(name(`update → 200${async ? ' or 202' : ''}`), updated, async ? [200, 202] : [200], updateResponse)
    ) {
      await settle(name('update'), updated, path, service, planId, timeout, false);
    }
    const other = service.plans.find((p) => p.id !== plan.id);
    if (other && (plan.plan_updateable ?? service.plan_updateable)) {
      const changed = await send('PATCH', path, {
        body: { service_id: service.id, plan_id: other.id, previous_values: { plan_id: planId } },
        query: incomplete,
      });
      if (!async && changed.status === 422) {
        record(name('plan change'), 'skip', `422 ${(changed.body as { error?: string } | undefined)?.error ?? ''}`);
      } else if (
        expectAnswer(
          name(`plan change to ${other.name} → 200${async ? ' or 202' : ''}`),
          changed,
          async ? [200, 202] : [200],
          updateResponse,
        )
      ) {
        if (await settle(name('plan change'), changed, path, service, other.id, timeout, false)) planId = other.id;
        if (service.instances_retrievable) {
          const fetched = await send('GET', path, { query: { service_id: service.id, plan_id: planId } });
          const got = (fetched.body as { plan_id?: string } | undefined)?.plan_id;
          record(
            name('fetched instance shows the new plan'),
            got === other.id ? 'pass' : 'fail',
            `${fetched.status} plan_id ${got}`,
          );
        }
      }
    } else {
      record(name('plan change'), 'skip', other ? 'plan_updateable is false' : 'the service has one plan');
    }

    const currentPlan = service.plans.find((p) => p.id === planId) ?? plan;
    if (currentPlan.bindable ?? service.bindable)
      await bindingLifecycle(name, service, currentPlan, path, incomplete, async, timeout);
    else record(name('bind'), 'skip', 'the plan is not bindable');

    const deprovisionQuery = { service_id: service.id, plan_id: planId, ...incomplete };
    const deleted = await send('DELETE', path, { query: deprovisionQuery });
    if (
      !async &&
      deleted.status === 422 &&
      (deleted.body as { error?: string } | undefined)?.error === 'AsyncRequired'
    ) {
      record(name('deprovision'), 'skip', 'deprovision is asynchronous only (422 AsyncRequired)');
      const again = await send('DELETE', path, { query: { ...deprovisionQuery, accepts_incomplete: 'true' } });
      await settle(name('cleanup deprovision'), again, path, service, planId, timeout, true);
      return;
    }
    if (
      expectAnswer(
        name(`deprovision → 200${async ? ' or 202' : ''}`),
        deleted,
        async ? [200, 202] : [200],
        deleted.status === 202 ? asyncResponse : emptyResponse,
      )
    ) {
      if (await settle(name('deprovision'), deleted, path, service, planId, timeout, true)) {
        errorCheck(name('repeated deprovision → 410'), await send('DELETE', path, { query: deprovisionQuery }), 410);
        if (service.instances_retrievable) {
          errorCheck(name('fetch after deprovision → 404'), await send('GET', path), 404);
        }
      }
    }
    if (async && wasAsync) await deleteDuringProvisioning(label, service, plan, timeout);
  }

  async function bindingLifecycle(
    name: (step: string) => string,
    service: OsbCatalogService,
    plan: OsbCatalogPlan,
    instancePath: string,
    incomplete: Record<string, string>,
    async: boolean,
    timeout: number,
  ) {
    const bindingId = randomUUID();
    const path = `${instancePath}/service_bindings/${bindingId}`;
    const body = {
      service_id: service.id,
      plan_id: plan.id,
      bind_resource: { app_guid: 'annex-conformance-app' },
      context: { platform: 'annex', organization_guid: ORG, space_guid: SPACE },
      parameters: sampleFromSchema(plan.schemas?.service_binding?.create?.parameters) ?? {},
    };
    const invalid = invalidParameters(plan.schemas?.service_binding?.create?.parameters);
    if (invalid) {
      errorCheck(
        name(`bind with invalid parameters (${invalid.field}) → 400`),
        await send('PUT', `${instancePath}/service_bindings/${randomUUID()}`, {
          body: { ...body, parameters: invalid.parameters },
          query: incomplete,
        }),
        400,
      );
    }
    const bound = await send('PUT', path, { body, query: incomplete });
    if (!async && bound.status === 422 && (bound.body as { error?: string } | undefined)?.error === 'AsyncRequired') {
      record(name('bind'), 'skip', 'binding is asynchronous only (422 AsyncRequired)');
      return;
    }
    if (
      !expectAnswer(
        name(`bind → 201${async ? ' or 202' : ''}`),
        bound,
        async ? [201, 202] : [201],
        bound.status === 202 ? asyncResponse : bindResponse,
      )
    ) {
      return;
    }
    if (!(await settle(name('bind'), bound, path, service, plan.id, timeout, false))) return;
    expectAnswer(
      name('duplicate bind (identical PUT) → 200'),
      await send('PUT', path, { body, query: incomplete }),
      [200],
      bindResponse,
    );
    errorCheck(
      name('same binding id, other attributes → 409'),
      await send('PUT', path, {
        body: { ...body, bind_resource: { app_guid: 'annex-conformance-other-app' } },
        query: incomplete,
      }),
      409,
    );
    if (service.bindings_retrievable) {
      const fetched = await send('GET', path, { query: { service_id: service.id, plan_id: plan.id } });
      expectAnswer(name('fetch binding → 200'), fetched, [200], bindResponse);
    }
    const query = { service_id: service.id, plan_id: plan.id, ...incomplete };
    const unbound = await send('DELETE', path, { query });
    if (
      expectAnswer(
        name(`unbind → 200${async ? ' or 202' : ''}`),
        unbound,
        async ? [200, 202] : [200],
        unbound.status === 202 ? asyncResponse : emptyResponse,
      )
    ) {
      if (await settle(name('unbind'), unbound, path, service, plan.id, timeout, true)) {
        errorCheck(name('repeated unbind → 410'), await send('DELETE', path, { query }), 410);
      }
    }
  }

  async function deleteDuringProvisioning(
    label: string,
    service: OsbCatalogService,
    plan: OsbCatalogPlan,
    timeout: number,
  ) {
    const name = `${label} delete during provisioning`;
    const id = randomUUID();
    const path = `/v2/service_instances/${id}`;
    const query = { service_id: service.id, plan_id: plan.id, accepts_incomplete: 'true' };
    const created = await send('PUT', path, {
      body: provisionBody(service, plan),
      query: { accepts_incomplete: 'true' },
    });
    if (created.status !== 202) {
      record(name, 'skip', `provision answered ${created.status} this time, not 202`);
      if (created.status === 201) await send('DELETE', path, { query });
      return;
    }
    const operation = (created.body as { operation?: string } | undefined)?.operation;
    // Work that ends at once leaves nothing to halt; reporting "succeeded" then is no fault.
    const before = await send('GET', `${path}/last_operation`, {
      query: { service_id: service.id, plan_id: plan.id, operation },
    });
    const ended = (before.body as { state?: string } | undefined)?.state;
    if (before.status === 200 && (ended === 'succeeded' || ended === 'failed')) {
      record(name, 'skip', `the provision had already ${ended} before the delete: nothing to halt`);
      await settle(`${name} cleanup`, await send('DELETE', path, { query }), path, service, plan.id, timeout, true);
      return;
    }
    const deleted = await send('DELETE', path, { query });
    if (deleted.status === 422) {
      record(
        name,
        'warn',
        'the delete was refused (422) while provisioning; the spec allows it, but the platform must then wait',
      );
      await poll(name, path, service, plan.id, operation, timeout);
      const retry = await send('DELETE', path, { query });
      await settle(`${name} cleanup`, retry, path, service, plan.id, timeout, true);
      return;
    }
    if (!expectAnswer(`${name}: deprovision accepted → 200 or 202`, deleted, [200, 202])) return;
    if (!(await settle(`${name}: deprovision`, deleted, path, service, plan.id, timeout, true))) return;
    if (operation) {
      const answer = await send('GET', `${path}/last_operation`, {
        query: { service_id: service.id, plan_id: plan.id, operation },
      });
      const state = (answer.body as { state?: string } | undefined)?.state;
      record(
        `${name}: the halted provision reports "failed"`,
        answer.status === 200 && state === 'failed' ? 'pass' : answer.status === 410 ? 'pass' : 'warn',
        `${answer.status} ${state ?? excerpt(answer)}`,
      );
    }
    errorCheck(`${name}: instance is gone afterwards (delete → 410)`, await send('DELETE', path, { query }), 410);
  }

  if (!catalog) record('catalog', 'fail', 'no usable catalog: the lifecycle checks could not run');
  const summary: Record<CheckStatus, number> = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const check of checks) summary[check.status]++;
  return { ok: summary.fail === 0, url: base, mode: options.auth.kind, checks, summary };
}

/**
 * The report as text, one line per check (`PASS`, `FAIL`, `WARN`, `SKIP`) and a summary.
 *
 * @example
 * console.log(formatReport(await runConformance(options)));
 */
export function formatReport(report: ConformanceReport): string {
  const lines = report.checks.map((check) => formatCheck(check));
  const { pass, fail, warn, skip } = report.summary;
  lines.push(
    '',
    `${report.ok ? 'PASSED' : 'FAILED'}: ${pass} passed, ${fail} failed, ${warn} warnings, ${skip} skipped (${report.url}, ${report.mode} auth)`,
  );
  return lines.join('\n');
}

/**
 * One check as a line of text.
 *
 * @example
 * runConformance({ ...options, onCheck: (check) => console.log(formatCheck(check)) });
 */
export function formatCheck(check: CheckResult): string {
  return `${check.status.toUpperCase().padEnd(4)} ${check.name}${check.status === 'pass' ? '' : ` — ${check.reason}`}`;
}
