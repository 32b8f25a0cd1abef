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
});
