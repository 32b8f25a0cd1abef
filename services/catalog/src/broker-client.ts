import http from 'node:http';
import https from 'node:https';
import type {
  Addon as ApiAddon,
  AppDetail as ApiAppDetail,
  Attachment as ApiAttachment,
  Event as ApiEvent,
  Preflight as ApiPreflight,
  Release as ApiRelease,
  App,
  AttachRequest,
  CreateAddonRequest,
  CreateAppRequest,
  InstallationActivity,
  InstallationsPage,
  ProviderRevenue,
  SetConfigVarsRequest,
} from '@annex/contracts/v1';
import { type OutboundPolicy, type OutboundResponse, OutboundTimeoutError, outboundRequest } from '@annex/platform';
import {
  BrokerUnavailableError,
  ConfigVarCollisionError,
  MESSAGE_REFUSALS,
  NameTakenError,
  ProviderFailedError,
} from './apps/errors.js';
import { type CatalogError, InvalidInputError, NotAuthorizedError, NotFoundError } from './domain/errors.js';

// The catalog's client of the broker's `/v1` apps API (docs/apps.md, "REST API"). The
// catalog holds no app data: every call carries the GraphQL caller's own bearer token, and
// the broker decides what that token may see or do (another org's app answers 404).

// The answers' shapes are the broker's contract (@annex/contracts/v1), not written here again.
export type {
  Addon as ApiAddon,
  AddonState,
  AppDetail as ApiAppDetail,
  Attachment as ApiAttachment,
  AttachmentState,
  Event as ApiEvent,
  Preflight as ApiPreflight,
  Release as ApiRelease,
} from '@annex/contracts/v1';

/** A request body as GraphQL hands it over: an optional field may also be null (left out when sent). */
type FromGraphql<T> = { [K in keyof T]: undefined extends T[K] ? T[K] | null : T[K] };

/** An add-on to create: `parameters` go as given (GraphQL's JSON), and the broker says what is wrong with them. */
type NewAddon = FromGraphql<Omit<CreateAddonRequest, 'parameters'>> & { parameters?: unknown };

/** An app as GraphQL resolves it: listed (`App`) or read alone, with its add-ons and attachments (`AppDetail`). */
export type ApiApp = App & Partial<Omit<ApiAppDetail, keyof App>>;

export interface BrokerClientOptions {
  /** The broker's base URL, without a trailing slash. */
  baseUrl: string;
  /** Deadline of one call (default 10 s); a long poll gets its wait on top. */
  timeoutMs?: number;
}

/** What a broker answer is about, so that a 404 can say "no app \"web\"". */
export interface Subject {
  kind: string;
  key: string;
}

interface CallOptions {
  body?: unknown;
  subject?: Subject;
  signal?: AbortSignal;
  /** Added to the deadline (long polls). */
  extraMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** The most of one answer that is read: an organization's whole list of apps with their add-ons fits many times over. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** The broker is the operator's own service, on whatever network they run it in. */
const BROKER_POLICY: OutboundPolicy = { allowPrivateNetworks: true };

/**
 * The broker's apps API as one caller sees it. Create one per GraphQL request with that
 * request's bearer token; it holds no state besides.
 *
 * @example
 * const broker = new BrokerClient({ baseUrl: 'http://127.0.0.1:4001' }).as(bearerToken);
 * const apps = await broker.listApps();
 */
export class BrokerClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** Connections kept open between calls, as a platform's dashboard polls. */
  readonly #agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };

  constructor(options: BrokerClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Closes the connections kept open; calls made afterwards open new ones. */
  close(): void {
    this.#agents['http:'].destroy();
    this.#agents['https:'].destroy();
  }

  /**
   * The API as the holder of `bearer` (the raw token, no `Bearer ` prefix) sees it.
   * `maxCalls` caps the calls one GraphQL request may make (long polls aside), so that a
   * query fanning out over many apps is refused instead of flooding the broker.
   */
  as(bearer: string | undefined, options: { maxCalls?: number } = {}): BrokerApi {
    return new BrokerApi(this, bearer, options.maxCalls ?? Number.POSITIVE_INFINITY);
  }

  /**
   * One call: `${baseUrl}/v1${path}` with the caller's token and a deadline. Resolves with
   * the parsed body of a 2xx (undefined for 204); rejects with the typed error the broker's
   * error body names, or `BrokerUnavailableError`.
   */
  async call<T>(bearer: string | undefined, method: string, path: string, options: CallOptions = {}): Promise<T> {
    const timeoutMs = this.timeoutMs + (options.extraMs ?? 0);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: OutboundResponse;
    try {
      response = await outboundRequest(new URL(`${this.baseUrl}/v1${path}`), {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        policy: BROKER_POLICY,
        timeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
        agents: this.#agents,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw error; // the caller gave up; not the broker's fault
      const reason =
        error instanceof OutboundTimeoutError ? `no answer within ${timeoutMs} ms` : (error as Error).message;
      throw new BrokerUnavailableError(`the broker at ${this.baseUrl} could not be reached: ${reason}`, null);
    }
    const { status, body: text } = response;
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new BrokerUnavailableError(
        `the broker answered ${method} /v1${path} with ${status} and a body that is not JSON`,
        status,
      );
    }
    if (status >= 200 && status < 300) return body as T;
    throw brokerError(status, body, options.subject, `${method} /v1${path}`);
  }
}

const CODES = new Set([
  'unauthorized',
  'forbidden',
  'not_found',
  'invalid_input',
  'name_taken',
  'var_collision',
  'conflict',
  'not_offered',
  'provider_failed',
  'payment_required',
]);

/** The broker's error body `{error, message, field?, name?, owner?}` → a typed catalog error. */
export function brokerError(status: number, body: unknown, subject: Subject | undefined, what: string): CatalogError {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const code = typeof b.error === 'string' ? b.error : '';
  const message = typeof b.message === 'string' && b.message !== '' ? b.message : `${what}: ${status}`;
  const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  if (!CODES.has(code)) {
    return new BrokerUnavailableError(`the broker answered ${what} with ${status}: ${message}`, status);
  }
  const Refusal = MESSAGE_REFUSALS.get(code);
  if (Refusal) return new Refusal(message);
  switch (code) {
    case 'unauthorized':
      return new NotAuthorizedError(message);
    case 'not_found': {
      // Kind and key say what was asked for; the broker's message may be more precise
      // ("release v9 of web not found"). Another org's app reads exactly like a missing one.
      const error = subject ? new NotFoundError(subject.kind, subject.key) : new NotFoundError('resource', what);
      if (typeof b.message === 'string' && b.message !== '') error.message = b.message;
      return error;
    }
    case 'invalid_input': {
      const field = str(b.field) ?? 'input';
      // The broker's message already starts with the field; InvalidInput prefixes it again.
      const text = message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
      return new InvalidInputError([{ path: field, message: text }]);
    }
    case 'name_taken':
      return new NameTakenError(message, str(b.name));
    case 'var_collision':
      return new ConfigVarCollisionError(message, str(b.name) ?? '', str(b.owner));
    default:
      return new ProviderFailedError(message);
  }
}

const seg = encodeURIComponent;

/** The `/v1` apps API bound to one caller's token. */
export class BrokerApi {
  #calls = 0;

  constructor(
    readonly client: BrokerClient,
    readonly bearer: string | undefined,
    readonly maxCalls: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Calls made so far (long polls aside). */
  get calls(): number {
    return this.#calls;
  }

  async #call<T>(method: string, path: string, options?: CallOptions): Promise<T> {
    if (options?.extraMs === undefined) {
      this.#calls += 1;
      if (this.#calls > this.maxCalls) {
        throw new InvalidInputError([
          {
            path: 'query',
            message: `needs more than ${this.maxCalls} calls to the broker; ask for the add-ons, config vars or releases of fewer apps at once`,
          },
        ]);
      }
    }
    return this.client.call<T>(this.bearer, method, path, options);
  }

  /** Null when the broker answers not_found (missing, or another org's). */
  async #orNull<T>(promise: Promise<T>): Promise<T | null> {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw error;
    }
  }

  /** The caller's apps, each with its add-ons and attachments: one call for any number of apps. */
  async listApps(): Promise<ApiApp[]> {
    return (await this.#call<{ apps: ApiApp[] }>('GET', '/apps?include=addons,attachments')).apps;
  }

  /** An app with its add-ons and attachments, by name or id; null when the caller may not see it. */
  getApp(app: string): Promise<ApiAppDetail | null> {
    return this.#orNull(this.#call<ApiAppDetail>('GET', `/apps/${seg(app)}`, { subject: { kind: 'app', key: app } }));
  }

  createApp(input: FromGraphql<CreateAppRequest>): Promise<ApiApp> {
    return this.#call<ApiApp>('POST', '/apps', { body: dropNulls(input) });
  }

  /** An add-on by name or id; null when the caller may not see it. */
  getAddon(addon: string): Promise<ApiAddon | null> {
    return this.#orNull(
      this.#call<ApiAddon>('GET', `/addons/${seg(addon)}`, { subject: { kind: 'add-on', key: addon } }),
    );
  }

  createAddon(app: string, input: NewAddon): Promise<{ addon: ApiAddon; attachment: ApiAttachment | null }> {
    return this.#call('POST', `/apps/${seg(app)}/addons`, {
      body: dropNulls(input),
      subject: { kind: 'app', key: app },
    });
  }

  preflightAddon(app: string, input: NewAddon): Promise<ApiPreflight> {
    return this.#call('POST', `/apps/${seg(app)}/addons/preflight`, {
      body: dropNulls(input),
      subject: { kind: 'app', key: app },
    });
  }

  attachAddon(app: string, input: FromGraphql<AttachRequest>): Promise<{ attachment: ApiAttachment }> {
    return this.#call('POST', `/apps/${seg(app)}/attachments`, {
      body: dropNulls(input),
      subject: { kind: 'app or add-on', key: `${app}, ${input.addon}` },
    });
  }

  preflightAttach(app: string, input: FromGraphql<AttachRequest>): Promise<ApiPreflight> {
    return this.#call('POST', `/apps/${seg(app)}/attachments/preflight`, {
      body: dropNulls(input),
      subject: { kind: 'app or add-on', key: `${app}, ${input.addon}` },
    });
  }

  detachAddon(app: string, attachment: string): Promise<{ attachment: ApiAttachment }> {
    return this.#call('DELETE', `/apps/${seg(app)}/attachments/${seg(attachment)}`, {
      subject: { kind: 'attachment', key: `${app}/${attachment}` },
    });
  }

  destroyAddon(addon: string): Promise<{ addon: ApiAddon }> {
    return this.#call('DELETE', `/addons/${seg(addon)}`, { subject: { kind: 'add-on', key: addon } });
  }

  changeAddonPlan(addon: string, plan: string): Promise<{ addon: ApiAddon }> {
    return this.#call('PATCH', `/addons/${seg(addon)}`, { body: { plan }, subject: { kind: 'add-on', key: addon } });
  }

  rotateAddonCredentials(addon: string, graceSeconds?: number | null): Promise<{ addon: ApiAddon }> {
    return this.#call('POST', `/addons/${seg(addon)}/rotate`, {
      body: dropNulls({ graceSeconds }),
      subject: { kind: 'add-on', key: addon },
    });
  }

  /** Lets another organization's apps attach the add-on; answers the organizations it is shared with. */
  shareAddon(addon: string, organization: string): Promise<{ organizations: string[] }> {
    return this.#call('POST', `/addons/${seg(addon)}/shares`, {
      body: { organization },
      subject: { kind: 'add-on', key: addon },
    });
  }

  unshareAddon(addon: string, organization: string): Promise<{ organizations: string[] }> {
    return this.#call('DELETE', `/addons/${seg(addon)}/shares/${seg(organization)}`, {
      subject: { kind: 'add-on', key: addon },
    });
  }

  /**
   * A single sign-on into the add-on's provider dashboard, for the caller (docs/provider-protocol.md §2):
   * the provider's URL with a single-use token that lives 60 s.
   */
  openAddonDashboard(addon: string, app?: string | null): Promise<{ url: string; expiresAt: string }> {
    return this.#call('POST', `/addons/${seg(addon)}/sso`, {
      body: dropNulls({ app }),
      subject: { kind: 'add-on', key: addon },
    });
  }

  /** Values of an app's vars (needs `config:read`). */
  configVars(app: string): Promise<{ release: number; vars: Record<string, string> }> {
    return this.#call('GET', `/apps/${seg(app)}/config-vars`, { subject: { kind: 'app', key: app } });
  }

  configVarNames(app: string): Promise<{ release: number; vars: { name: string; owner: string }[] }> {
    return this.#call('GET', `/apps/${seg(app)}/config-var-names`, { subject: { kind: 'app', key: app } });
  }

  /** The release made, or `{unchanged: true}` when the vars already had these values. */
  setConfigVars(app: string, input: FromGraphql<SetConfigVarsRequest>): Promise<ApiRelease | { unchanged: true }> {
    return this.#call('PATCH', `/apps/${seg(app)}/config-vars`, {
      body: dropNulls(input),
      subject: { kind: 'app', key: app },
    });
  }

  async releases(app: string): Promise<ApiRelease[]> {
    return (
      await this.#call<{ releases: ApiRelease[] }>('GET', `/apps/${seg(app)}/releases`, {
        subject: { kind: 'app', key: app },
      })
    ).releases;
  }

  rollbackConfig(app: string, version: number): Promise<ApiRelease> {
    return this.#call('POST', `/apps/${seg(app)}/releases/rollback`, {
      body: { version },
      subject: { kind: 'app', key: app },
    });
  }

  /** A page of the provider's installations (provider or admin tokens; docs/provider-portal.md). */
  providerInstallations(
    provider: string,
    query: { first: number; after?: string | null; plan?: string | null; state?: string | null },
  ): Promise<InstallationsPage> {
    const params = new URLSearchParams({ first: String(query.first) });
    for (const key of ['after', 'plan', 'state'] as const) {
      const value = query[key];
      if (value !== null && value !== undefined) params.set(key, value);
    }
    return this.#call('GET', `/providers/${seg(provider)}/installations?${params}`, {
      subject: { kind: 'provider', key: provider },
    });
  }

  /** The provider's live add-ons at the end of each of the last `days` days. */
  providerInstallationActivity(provider: string, days: number): Promise<InstallationActivity> {
    return this.#call('GET', `/providers/${seg(provider)}/installations/activity?days=${days}`, {
      subject: { kind: 'provider', key: provider },
    });
  }

  /** The provider's revenue and payouts of its last `months` months with any. */
  providerRevenue(provider: string, months: number): Promise<ProviderRevenue> {
    return this.#call('GET', `/providers/${seg(provider)}/revenue?months=${months}`, {
      subject: { kind: 'provider', key: provider },
    });
  }

  /** Long poll: events after `after` (all retained ones when omitted), waiting up to `waitMs` for one. */
  async events(app: string, options: { after?: string; waitMs: number; signal?: AbortSignal }): Promise<ApiEvent[]> {
    const query = new URLSearchParams({ waitMs: String(options.waitMs) });
    if (options.after !== undefined) query.set('after', options.after);
    const body = await this.#call<{ events: ApiEvent[] }>('GET', `/apps/${seg(app)}/events?${query}`, {
      subject: { kind: 'app', key: app },
      extraMs: options.waitMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return body.events;
  }
}

/** JSON bodies leave out what GraphQL passed as null (the broker treats absent as "default"). */
function dropNulls<T extends Record<string, unknown>>(input: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(input).filter(([, value]) => value !== null && value !== undefined),
  ) as Partial<T>;
}
