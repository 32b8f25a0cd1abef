import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent, parseTracestate } from './context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('traceparent', () => {
  it('reads a version 00 header and writes it back the same', () => {
    const header = `00-${TRACE}-${SPAN}-01`;
    const context = parseTraceparent(header);
    expect(context).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(formatTraceparent(context as NonNullable<typeof context>)).toBe(header);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.sampled).toBe(false);
    // Only bit 0 is the sampled flag.
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-02`)?.sampled).toBe(false);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-03`)?.sampled).toBe(true);
  });

  it('reads a later version by its first four fields', () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-what-comes-next`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
    });
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01`)?.traceId).toBe(TRACE);
  });

  it.each([
    ['missing', undefined],
    ['not a string', ['a', 'b']],
    ['empty', ''],
    ['garbage', 'hello'],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['version 00 with more after it', `00-${TRACE}-${SPAN}-01-extra`],
    ['a later version glued to more', `01-${TRACE}-${SPAN}-01extra`],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['an all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['a short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['a non-hex flag', `00-${TRACE}-${SPAN}-0g`],
    ['two headers joined', `00-${TRACE}-${SPAN}-01, 00-${TRACE}-${SPAN}-01`],
  ])('ignores a header that is %s (null, never an error)', (_what, header) => {
    expect(parseTraceparent(header)).toBeNull();
  });

  it('keeps a well-formed tracestate beside it and drops a malformed one', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`, 'rojo=00f067aa0ba902b7, congo=t61rcWkgMzE')?.traceState).toBe(
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    );
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`, 'no value')).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
    });
  });
});

describe('tracestate', () => {
  it('accepts the specification grammar, tenant keys included, and joins repeated headers', () => {
    expect(parseTracestate('a=1,tenant@vendor=x y')).toBe('a=1,tenant@vendor=x y');
    expect(parseTracestate(['a=1', 'b=2'])).toBe('a=1,b=2');
    expect(parseTracestate('a=1,,  ,b=2')).toBe('a=1,b=2');
  });

  it.each([
    ['a key twice', 'a=1,a=2'],
    ['an upper-case key', 'A=1'],
    ['a value with a comma-free equals sign', 'a=b=c'],
    ['a value with a control character', 'a=1\u0001'],
    ['no members', ' , '],
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
  ])('drops a header with %s', (_what, header) => {
    expect(parseTracestate(header)).toBeUndefined();
  });
});
