import { describe, expect, it } from 'vitest';
import { checkParameterSchema, validateParameters } from './json-schema.js';

// Each dialect is told apart by a keyword whose meaning changed between drafts: a schema
// read with the wrong dialect either fails to compile or validates differently.

const DRAFT_04 = 'http://json-schema.org/draft-04/schema#';
const DRAFT_06 = 'http://json-schema.org/draft-06/schema#';
const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
const DRAFT_2019 = 'https://json-schema.org/draft/2019-09/schema';
const DRAFT_2020 = 'https://json-schema.org/draft/2020-12/schema';

/** `size` below 10: draft-04 says it with a boolean `exclusiveMaximum`, later drafts with a number. */
const below10 = (dialect: string | undefined, exclusiveMaximum: boolean | number, maximum?: number) => ({
  ...(dialect ? { $schema: dialect } : {}),
  type: 'object',
  properties: { size: { type: 'number', ...(maximum !== undefined ? { maximum } : {}), exclusiveMaximum } },
});

/** Requires `b` when `a` is 1, with if/then (draft-07 and later only). */
const conditional = (dialect: string | undefined) => ({
  ...(dialect ? { $schema: dialect } : {}),
  type: 'object',
  if: { properties: { a: { const: 1 } }, required: ['a'] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, not a thenable
  then: { required: ['b'] },
});

describe('plan parameter schemas in every JSON Schema dialect OSB brokers use', () => {
  it('draft-04: a boolean exclusiveMaximum makes maximum exclusive; a numeric one is refused', () => {
    const schema = below10(DRAFT_04, true, 10);
    expect(checkParameterSchema(schema)).toEqual([]);
    expect(validateParameters(schema, { size: 10 })).toEqual([{ path: '/size', message: 'must be < 10' }]);
    expect(validateParameters(schema, { size: 9.5 })).toEqual([]);
    expect(checkParameterSchema(below10(DRAFT_04, 10))).toEqual([
      expect.stringMatching(/^not a valid JSON Schema: .*exclusiveMaximum must be boolean/),
    ]);
  });

  it('draft-06: a numeric exclusiveMaximum; a boolean one is refused, and if/then is not a keyword yet', () => {
    const schema = below10(DRAFT_06, 10);
    expect(checkParameterSchema(schema)).toEqual([]);
    expect(validateParameters(schema, { size: 10 })).toEqual([{ path: '/size', message: 'must be < 10' }]);
    expect(checkParameterSchema(below10(DRAFT_06, true, 10))).toEqual([
      expect.stringMatching(/^not a valid JSON Schema: .*exclusiveMaximum must be number/),
    ]);
    expect(validateParameters(conditional(DRAFT_06), { a: 1 })).toEqual([]);
  });

  it('draft-07, declared or by default: numeric exclusiveMaximum and if/then applied', () => {
    for (const dialect of [DRAFT_07, undefined]) {
      expect(validateParameters(below10(dialect, 10), { size: 10 })).toEqual([
        { path: '/size', message: 'must be < 10' },
      ]);
      expect(checkParameterSchema(below10(dialect, true, 10))).toHaveLength(1);
      expect(validateParameters(conditional(dialect), { a: 1 })).toContainEqual({
        path: '/b',
        message: "must have required property 'b'",
      });
      expect(validateParameters(conditional(dialect), { a: 1, b: 2 })).toEqual([]);
    }
  });

  const pair = (dialect: string, keyword: 'items' | 'prefixItems') => ({
    $schema: dialect,
    type: 'object',
    properties: { pair: { type: 'array', [keyword]: [{ type: 'string' }, { type: 'integer' }] } },
  });

  it('2019-09: an items array is a tuple, and prefixItems means nothing yet', () => {
    expect(checkParameterSchema(pair(DRAFT_2019, 'items'))).toEqual([]);
    expect(validateParameters(pair(DRAFT_2019, 'items'), { pair: ['a', 'b'] })).toEqual([
      { path: '/pair/1', message: 'must be integer' },
    ]);
    expect(validateParameters(pair(DRAFT_2019, 'prefixItems'), { pair: ['a', 'b'] })).toEqual([]);
  });

  it('2020-12: prefixItems is the tuple, and an items array is refused', () => {
    expect(validateParameters(pair(DRAFT_2020, 'prefixItems'), { pair: ['a', 'b'] })).toEqual([
      { path: '/pair/1', message: 'must be integer' },
    ]);
    expect(validateParameters(pair(DRAFT_2020, 'prefixItems'), { pair: ['a', 1] })).toEqual([]);
    expect(checkParameterSchema(pair(DRAFT_2020, 'items'))).toEqual([
      expect.stringMatching(/^not a valid JSON Schema: .*items must be object,boolean/),
    ]);
  });

  it('finds a dialect whatever its URI says about the scheme and the empty fragment', () => {
    const written = below10('https://json-schema.org/draft-04/schema', true, 10);
    expect(checkParameterSchema(written)).toEqual([]);
    expect(validateParameters(written, { size: 10 })).toEqual([{ path: '/size', message: 'must be < 10' }]);
  });

  it('refuses an unknown $schema, naming it and the dialects it may use', () => {
    const problems = checkParameterSchema({ $schema: 'http://json-schema.org/draft-03/schema#', type: 'object' });
    expect(problems).toEqual([
      '$schema "http://json-schema.org/draft-03/schema#" is not a JSON Schema dialect Annex supports; use one of http://json-schema.org/draft-04/schema#, http://json-schema.org/draft-06/schema#, http://json-schema.org/draft-07/schema#, https://json-schema.org/draft/2019-09/schema, https://json-schema.org/draft/2020-12/schema (or leave $schema out for draft-07)',
    ]);
    expect(checkParameterSchema({ $schema: 7, type: 'object' })).toEqual([
      '$schema must be a string naming a JSON Schema dialect',
    ]);
    expect(() => validateParameters({ $schema: 'urn:nope', type: 'object' }, {})).toThrow(/\$schema "urn:nope"/);
  });
});
