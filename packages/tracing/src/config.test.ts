import { describe, expect, it } from 'vitest';
import { tracingConfig } from './config.js';

const defaults = { serviceName: 'annex-test' };

describe('tracing configuration from OTEL_* variables', () => {
  it('is off without an endpoint, with OTEL_SDK_DISABLED=true, or with OTEL_TRACES_EXPORTER=none', () => {
    expect(tracingConfig({}, defaults).enabled).toBe(false);
    expect(tracingConfig({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }, defaults).enabled).toBe(false);
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };
    expect(tracingConfig({ ...endpoint, OTEL_SDK_DISABLED: 'true' }, defaults).enabled).toBe(false);
    expect(tracingConfig({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }, defaults).enabled).toBe(false);
    expect(tracingConfig({ ...endpoint, OTEL_SDK_DISABLED: 'false' }, defaults).enabled).toBe(true);
  });

  it('appends /v1/traces to the base endpoint and takes the traces endpoint as it is', () => {
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, defaults).endpoint).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example/base/' }, defaults).endpoint).toBe(
      'https://otel.example/base/v1/traces',
    );
    expect(
      tracingConfig(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom/path',
        },
        defaults,
      ).endpoint,
    ).toBe('http://collector:4318/custom/path');
  });

  it('reads headers, resource attributes, the service name, the sampler and the batch settings', () => {
    const config = tracingConfig(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc,x-tenant=one',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=two',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.name=from-resource',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
      defaults,
    );
    expect(config.headers).toEqual({ authorization: 'Bearer abc', 'x-tenant': 'two' });
    expect(config.resource).toEqual({ 'deployment.environment.name': 'prod', 'service.name': 'from-resource' });
    expect(config.sampler).toEqual({ root: 'traceidratio', parentBased: true, ratio: 0.25 });
    expect(config.timeoutMs).toBe(2000);
    expect(config.scheduleDelayMs).toBe(100);
    expect(
      tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SERVICE_NAME: 'mine' }, defaults).resource[
        'service.name'
      ],
    ).toBe('mine');
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, defaults).resource['service.name']).toBe(
      'annex-test',
    );
  });

  it.each([
    ['OTEL_SDK_DISABLED', { OTEL_SDK_DISABLED: 'yes' }],
    ['OTEL_TRACES_EXPORTER', { OTEL_TRACES_EXPORTER: 'zipkin' }],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }],
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://collector' }],
    ['OTEL_EXPORTER_OTLP_HEADERS', { OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }],
    ['OTEL_RESOURCE_ATTRIBUTES', { OTEL_RESOURCE_ATTRIBUTES: 'a=%zz' }],
    ['OTEL_TRACES_SAMPLER', { OTEL_TRACES_SAMPLER: 'sometimes' }],
    ['OTEL_TRACES_SAMPLER_ARG', { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }],
    ['OTEL_EXPORTER_OTLP_TIMEOUT', { OTEL_EXPORTER_OTLP_TIMEOUT: '-1' }],
    ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', { OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20' }],
  ])('names %s when it is wrong', (variable, env) => {
    const base = variable.includes('ENDPOINT') ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(() => tracingConfig({ ...base, ...env }, defaults)).toThrow(new RegExp(`^${variable}: `));
  });
});
