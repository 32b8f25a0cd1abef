/**
 * The console's only way to data: the catalog's GraphQL API, called with the session's org
 * token, so the services alone decide what it may see.
 */

/** A call to the catalog failed; `message` is fit to show. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

const TIMEOUT_MS = 15_000;

/** A GraphQL error that came with data: the field at `path` is null or missing, the rest arrived. */
export interface FieldError {
  message: string;
  /** The response path of the failed field, e.g. `['app']` or `['u3']`; empty when the catalog gave none. */
  path: (string | number)[];
}

/**
 * What a query answered: its data and, for a partial answer, the errors of the fields that
 * failed. A null field with no error about it is a real null (missing or hidden).
 */
export interface CatalogResult<T> {
  data: T;
  errors: FieldError[];
}

export interface CatalogClient {
  /** Throws `UpstreamError` when nothing came back; a partial answer resolves with its errors. */
  query<T = any>(token: string | null, query: string, variables?: Record<string, unknown>): Promise<CatalogResult<T>>;
  /** The `addonEvents` subscription over SSE; yields each event until `signal` aborts or the stream ends. */
  events(token: string, app: string, after: string | undefined, signal: AbortSignal): AsyncGenerator<AddonEvent>;
}

export interface AddonEvent {
  id: string;
  app: string;
  addon: string | null;
  kind: string;
  detail: unknown;
  createdAt: string;
}

export function createCatalogClient(catalogUrl: string): CatalogClient {
  const endpoint = `${catalogUrl}/graphql`;
  const headers = (token: string | null, accept = 'application/json') => ({
    'content-type': 'application/json',
    accept,
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  });
  return {
    async query(token, query, variables) {
      let res: Response;
      try {
        res = await fetch(endpoint, {
          method: 'POST',
          headers: headers(token),
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch {
        throw new UpstreamError('the catalog could not be reached; try again shortly', 502);
      }
      const body = (await res.json().catch(() => null)) as {
        data?: any;
        errors?: { message?: unknown; path?: unknown; extensions?: { code?: string } }[];
      } | null;
      if (res.status === 401) throw new UpstreamError('your session is no longer valid; sign in again', 401);
      if (!body) throw new UpstreamError(`the catalog answered ${res.status}`, 502);
      const errors = Array.isArray(body.errors) ? body.errors : [];
      if (typeof body.data !== 'object' || body.data === null) {
        const first = errors[0];
        if (!first) throw new UpstreamError(`the catalog answered ${res.status} without data`, 502);
        const code = first.extensions?.code;
        const status = code === 'NOT_FOUND' ? 404 : code === 'FORBIDDEN' ? 403 : code === 'BAD_USER_INPUT' ? 400 : 502;
        throw new UpstreamError(messageOf(first), status);
      }
      // Data with errors is a partial answer: the failed fields are null, the rest is good.
      return {
        data: body.data,
        errors: errors.map((e) => ({
          message: messageOf(e),
          path: Array.isArray(e.path)
            ? e.path.filter((p): p is string | number => typeof p === 'string' || typeof p === 'number')
            : [],
        })),
      };
    },
    async *events(token, app, after, signal) {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: headers(token, 'text/event-stream'),
        body: JSON.stringify({
          query:
            'subscription($app: String!, $after: ID) { addonEvents(app: $app, after: $after) { id app addon kind detail createdAt } }',
          variables: { app, after },
        }),
        signal,
      });
      if (!res.ok || !res.body) throw new UpstreamError(`the catalog answered ${res.status}`, 502);
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const event = frame.match(/^event: ?(.*)$/m)?.[1];
          const data = frame
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          if (event === 'complete') return;
          if (!data) continue;
          const payload = JSON.parse(data) as { data?: { addonEvents?: AddonEvent }; errors?: { message: string }[] };
          if (payload.errors?.[0]) throw new UpstreamError(payload.errors[0].message, 404);
          if (payload.data?.addonEvents) yield payload.data.addonEvents;
        }
      }
    },
  };
}

const messageOf = (error: { message?: unknown }) =>
  typeof error.message === 'string' && error.message ? error.message : 'the catalog gave no reason';

/** The first of `errors` about the top-level field `field` (or about no field in particular). */
export function errorAt(errors: readonly FieldError[], field: string): FieldError | undefined {
  return errors.find((e) => e.path.length === 0 || e.path[0] === field);
}
