/**
 * Tracing as the standard OpenTelemetry environment variables configure it
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
 * Traces are exported when an OTLP endpoint is named and nothing turns them off.
 */
export interface TracingConfig {
  /** False: no exporter, no spans; an incoming `traceparent` is still passed on. */
  readonly enabled: boolean;
  /** The full URL spans are POSTed to (`…/v1/traces`). */
  readonly endpoint: string;
  /** Sent with every export (authentication for a hosted collector, say). */
  readonly headers: Readonly<Record<string, string>>;
  /** Resource attributes, `service.name` among them. */
  readonly resource: Readonly<Record<string, string>>;
  readonly sampler: SamplerConfig;
  /** One export's deadline. */
  readonly timeoutMs: number;
  /** Longest a finished span waits before it is sent. */
  readonly scheduleDelayMs: number;
  /** Spans held at most; past it new ones are dropped (and counted). */
  readonly maxQueueSize: number;
  /** Spans per export at most. */
  readonly maxExportBatchSize: number;
}

export interface SamplerConfig {
  /** What decides for a trace that starts here. */
  readonly root: 'always_on' | 'always_off' | 'traceidratio';
  /** A caller's `sampled` flag decides for the traces it started (the `parentbased_*` samplers). */
  readonly parentBased: boolean;
  /** The share of traces kept by `traceidratio`, 0 to 1. */
  readonly ratio: number;
}

/** A wrong `OTEL_*` variable, named. */
export class TracingConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'TracingConfigError';
  }
}

/** Tracing off: what a service runs with when no endpoint is configured. */
export const TRACING_OFF: TracingConfig = Object.freeze({
  enabled: false,
  endpoint: '',
  headers: {},
  resource: {},
  sampler: { root: 'always_off' as const, parentBased: false, ratio: 0 },
  timeoutMs: 10_000,
  scheduleDelayMs: 5_000,
  maxQueueSize: 2_048,
  maxExportBatchSize: 512,
});

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Reads the `OTEL_*` variables once. `serviceName` names the service unless
 * `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) does. Throws a
 * `TracingConfigError` naming the first wrong variable; empty strings count as unset.
 *
 * @example
 * const tracing = tracingConfig(process.env, { serviceName: 'annex-broker' });
 * if (tracing.enabled) console.log(`traces go to ${tracing.endpoint}`);
 */
export function tracingConfig(env: Environment, defaults: { serviceName: string }): TracingConfig {
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const disabled = read('OTEL_SDK_DISABLED');
  if (disabled !== undefined && !['true', 'false'].includes(disabled.toLowerCase())) {
    throw new TracingConfigError('OTEL_SDK_DISABLED', `expected true or false, got "${disabled}"`);
  }
  if (disabled?.toLowerCase() === 'true') return TRACING_OFF;
  const exporter = read('OTEL_TRACES_EXPORTER');
  if (exporter !== undefined && exporter !== 'otlp' && exporter !== 'none') {
    throw new TracingConfigError('OTEL_TRACES_EXPORTER', `only otlp or none are supported, got "${exporter}"`);
  }
  if (exporter === 'none') return TRACING_OFF;

  const protocolVariable = read('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL')
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = read(protocolVariable);
  if (protocol !== undefined && protocol !== 'http/json') {
    throw new TracingConfigError(
      protocolVariable,
      `only http/json is supported (OTLP over HTTP with JSON bodies), got "${protocol}"`,
    );
  }

  let endpoint: string | undefined;
  const signalEndpoint = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = read('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (signalEndpoint !== undefined) {
    endpoint = httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', signalEndpoint);
  } else if (baseEndpoint !== undefined) {
    // The base URL gets the signal's path appended, whatever path it already has.
    endpoint = `${httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', baseEndpoint).replace(/\/+$/, '')}/v1/traces`;
  }
  if (endpoint === undefined) return TRACING_OFF;

  const headers = {
    ...keyValues('OTEL_EXPORTER_OTLP_HEADERS', read('OTEL_EXPORTER_OTLP_HEADERS')),
    ...keyValues('OTEL_EXPORTER_OTLP_TRACES_HEADERS', read('OTEL_EXPORTER_OTLP_TRACES_HEADERS')),
  };
  const resource = keyValues('OTEL_RESOURCE_ATTRIBUTES', read('OTEL_RESOURCE_ATTRIBUTES'));
  resource['service.name'] = read('OTEL_SERVICE_NAME') ?? resource['service.name'] ?? defaults.serviceName;

  const samplerName = read('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on';
  if (!(SAMPLERS as readonly string[]).includes(samplerName)) {
    throw new TracingConfigError('OTEL_TRACES_SAMPLER', `expected one of ${SAMPLERS.join(', ')}, got "${samplerName}"`);
  }
  const parentBased = samplerName.startsWith('parentbased_');
  const root = samplerName.replace(/^parentbased_/, '') as SamplerConfig['root'];
  let ratio = 1;
  const ratioText = read('OTEL_TRACES_SAMPLER_ARG');
  if (root === 'traceidratio' && ratioText !== undefined) {
    ratio = Number(ratioText);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
      throw new TracingConfigError('OTEL_TRACES_SAMPLER_ARG', `expected a number from 0 to 1, got "${ratioText}"`);
    }
  }

  const timeoutVariable = read('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT')
    ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'
    : 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const number = (name: string, fallback: number) => {
    const text = read(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0) {
      throw new TracingConfigError(name, `expected a whole number above 0, got "${text}"`);
    }
    return value;
  };
  const maxQueueSize = number('OTEL_BSP_MAX_QUEUE_SIZE', 2_048);
  const maxExportBatchSize = number('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512);
  if (maxExportBatchSize > maxQueueSize) {
    throw new TracingConfigError(
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      `must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize}), got ${maxExportBatchSize}`,
    );
  }
  return Object.freeze({
    enabled: true,
    endpoint,
    headers: Object.freeze(headers),
    resource: Object.freeze(resource),
    sampler: Object.freeze({ root, parentBased, ratio }),
    timeoutMs: number(timeoutVariable, 10_000),
    scheduleDelayMs: number('OTEL_BSP_SCHEDULE_DELAY', 5_000),
    maxQueueSize,
    maxExportBatchSize,
  });
}

function httpUrl(variable: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TracingConfigError(variable, `expected a URL such as http://127.0.0.1:4318, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TracingConfigError(variable, `expected an http or https URL, got "${text}"`);
  }
  return url.href;
}

/** `key1=value1,key2=value2` with percent-encoded values (headers, resource attributes). */
function keyValues(variable: string, text: string | undefined): Record<string, string> {
  const pairs: Record<string, string> = {};
  if (text === undefined) return pairs;
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const at = item.indexOf('=');
    const key = at > 0 ? item.slice(0, at).trim() : '';
    if (key === '')
      throw new TracingConfigError(variable, `expected key=value pairs separated by commas, got "${item}"`);
    let value: string;
    try {
      value = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      throw new TracingConfigError(variable, `the value of ${key} is not valid percent-encoding`);
    }
    pairs[key] = value;
  }
  return pairs;
}
