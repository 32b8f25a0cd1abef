import { parseTraceparent, TRACING_OFF, Tracer, tracingConfig, withRemoteContext } from '@annex/tracing';
import { describe, expect, it } from 'vitest';
import { serviceLogger } from './log.js';
import { captureLogs } from './testing.js';

const serviceKeys = (line: string) => line.match(/"service":/g)?.length ?? 0;

describe('logs', () => {
  it('name their service once, also for another service of the same process', () => {
    const captured = captureLogs('annex', 'info');
    captured.logger.info('starting');
    const catalog = serviceLogger(captured.logger, 'catalog');
    catalog.info({ path: '/graphql' }, 'request');
    catalog.child({ requestId: 'r1' }).warn('slow');
    serviceLogger(serviceLogger(captured.logger, 'examples'), 'ai-gateway').error('down');
    expect(captured.lines.map(serviceKeys)).toEqual([1, 1, 1, 1]);
    expect(captured.records().map((r) => [r.service, r.level, r.msg])).toEqual([
      ['annex', 30, 'starting'],
      ['catalog', 30, 'request'],
      ['catalog', 40, 'slow'],
      ['ai-gateway', 50, 'down'],
    ]);
    expect(captured.records()[2]).toMatchObject({ requestId: 'r1' });
  });

  it('keep the level and the redaction of the logger they come from', () => {
    const captured = captureLogs('annex', 'warn');
    const broker = serviceLogger(captured.logger, 'broker');
    broker.info('not shown');
    broker.warn({ credentials: { uri: 'postgres://secret' }, token: 'annex_org_x' }, 'shown');
    expect(captured.records()).toEqual([
      expect.objectContaining({ service: 'broker', credentials: '[redacted]', token: '[redacted]', msg: 'shown' }),
    ]);
  });

  it('carry the trace and span ids of the span they are logged in, and none outside one', async () => {
    const captured = captureLogs('annex', 'info');
    // A sink that keeps spans to itself: the ids in the log are what matters here.
    const tracer = new Tracer(
      tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' }, { serviceName: 't' }),
      {
        add() {},
        flush: async () => {},
        shutdown: async () => {},
      },
    );
    let ids: { traceId: string; spanId: string } | undefined;
    await tracer.inSpan('work', {}, async (span) => {
      ids = span.context;
      await new Promise((resolve) => setTimeout(resolve, 1));
      captured.logger.child({ requestId: 'r1' }).info('inside');
    });
    captured.logger.info('outside');
    const caller = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    withRemoteContext(caller as NonNullable<typeof caller>, () => captured.logger.info('passed on'));
    const [inside, outside, passedOn] = captured.records();
    expect(inside).toMatchObject({ msg: 'inside', trace_id: ids?.traceId, span_id: ids?.spanId, requestId: 'r1' });
    expect(outside).not.toHaveProperty('trace_id');
    expect(outside).not.toHaveProperty('span_id');
    expect(passedOn).toMatchObject({ trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' });
    expect(new Tracer(TRACING_OFF).enabled).toBe(false);
  });
});
