import fc from 'fast-check';
import type { Attacker, Rival } from './target.js';

// Hostile inputs, shared by every surface the suite attacks.

/** Characters that break parsers, databases, logs and terminals. */
const NASTY_CHARACTERS = [
  '\u0000',
  '\u0001',
  '\u0007',
  '\b',
  '\t',
  '\n',
  '\r',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u200b',
  '\u200d',
  '\u2028',
  '\u2029',
  '\u202e',
  '\ufeff',
  '\ufffd',
  '\uffff',
  '\ud800', // lone high surrogate
  '\udfff', // lone low surrogate
  '𝕏',
  'é',
  'ﷺ',
  '%',
  '%00',
  '%zz',
  '/',
  '\\',
  '..',
  '"',
  "'",
  '`',
  '<',
  '>',
  '&',
  ';',
  '$',
  '{',
  '}',
  '*',
  '?',
  '#',
];

/** Strings that mean something to some layer: SQL, templates, prototypes, numbers, paths. */
const MEANINGFUL_STRINGS = [
  '',
  ' ',
  '0',
  '-1',
  '1e309',
  'NaN',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  "' OR '1'='1",
  "'; DROP TABLE apps; --",
  '$1',
  '%s%s%s%n',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the point
  '${jndi:ldap://x}',
  '{{7*7}}',
  '../../../../etc/passwd',
  'file:///etc/passwd',
  'http://169.254.169.254/latest/meta-data/',
  'http://[fec0::1]/',
  'http://127.0.0.1:1/',
  'annex_org_AAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
];

const nastyCharacter = fc.constantFrom(...NASTY_CHARACTERS);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const controlCharacter = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code));

/** A long string: a short piece repeated past typical column and body limits. */
const longString = fc
  .tuple(fc.oneof(fc.constant('a'), nastyCharacter, fc.string({ maxLength: 4 })), fc.integer({ min: 200, max: 70_000 }))
  .map(([piece, length]) =>
    (piece === '' ? 'x' : piece).repeat(Math.ceil(length / Math.max(piece.length, 1))).slice(0, length),
  );

/** Any string, weighted toward the ones that break things. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.string({ unit: fc.oneof(nastyCharacter, fc.string({ minLength: 1, maxLength: 1 })), maxLength: 24 }),
  },
  { weight: 2, arbitrary: fc.constantFrom(...MEANINGFUL_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.oneof(loneSurrogate, controlCharacter), minLength: 1, maxLength: 8 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.string({ maxLength: 8 }), nastyCharacter).map(([text, bad]) => `${text}${bad}${text}`),
  },
  { weight: 1, arbitrary: longString },
);

/** Numbers at and past every boundary a JSON number can reach. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    1,
    0.5,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    2 ** 53 - 1,
    2 ** 53 + 2,
    -(2 ** 53) - 2,
    2 ** 63,
    1e21,
    1e308,
    -1e308,
    Number.MIN_VALUE,
    Number.EPSILON,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** A JSON value made of hostile strings and numbers, with hostile keys. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor')), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Mostly `valid`, sometimes `hostile`: most requests then get past the first check and reach deeper code. */
export function mostly<T, U>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<U>, odds = 6): fc.Arbitrary<T | U> {
  return fc.oneof({ weight: odds, arbitrary: valid }, { weight: 1, arbitrary: hostile });
}

/** A field of a request: what a well-behaved client sends, and what an attacker may put there instead. */
export interface Field<T> {
  valid: fc.Arbitrary<T>;
  hostile: fc.Arbitrary<unknown>;
}

/** A path parameter: a valid value, and hostile ones (before percent-encoding). */
export interface PathParameter {
  valid: fc.Arbitrary<string>;
  hostile: fc.Arbitrary<string>;
}

/**
 * A record whose fields are valid except up to `maxMutations` of them, hostile: most
 * requests then get past the first check and the hostile value reaches deeper code. A field
 * whose value comes out `undefined` is left out.
 */
export function mutated<K extends string>(
  fields: Record<K, Field<unknown>>,
  maxMutations = 2,
): fc.Arbitrary<Partial<Record<K, unknown>>> {
  const keys = Object.keys(fields) as K[];
  return fc
    .subarray(keys, { maxLength: Math.min(maxMutations, keys.length) })
    .chain((hostile) =>
      fc
        .record(
          Object.fromEntries(
            keys.map((key) => [key, hostile.includes(key) ? fields[key].hostile : fields[key].valid]),
          ) as Record<K, fc.Arbitrary<unknown>>,
        )
        .map(
          (record) =>
            Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<
              Record<K, unknown>
            >,
        ),
    );
}

/** A hostile string short enough for a header. */
export const hostileHeaderText = hostileString.map((text) => text.slice(0, 1000));

/** A value of the wrong type for whatever field it lands in. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  hostileJson,
);

/**
 * A JSON value nested thousands of levels deep, to place inside a body that is otherwise
 * valid. Kept as its depth until `jsonText` writes it: building and serializing the real
 * value would overflow the test's own stack.
 */
export class DeepJson {
  constructor(
    readonly depth: number,
    readonly object: boolean,
  ) {}
  toText(): string {
    return this.object
      ? `${'{"a":'.repeat(this.depth)}1${'}'.repeat(this.depth)}`
      : `${'['.repeat(this.depth)}${']'.repeat(this.depth)}`;
  }
}
export const deepJsonValue = fc
  .record({ depth: fc.integer({ min: 60, max: 20_000 }), object: fc.boolean() })
  .map(({ depth, object }) => new DeepJson(depth, object));

/** JSON.stringify that writes a DeepJson where it stands, and `null` for what JSON cannot hold. */
export function jsonText(value: unknown): string {
  if (value instanceof DeepJson) return value.toText();
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}:${jsonText(item)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Text that is not quite JSON, or JSON too large for any body limit. */
export const brokenJsonText = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '{"a":',
    'nul',
    '[1,]',
    '{"a":1}{"b":2}',
    '\u0000',
    '"\\ud800"',
    '{"a":"\\u0000"}',
    '1e999999',
  ),
  fc.string({ maxLength: 40 }),
  fc.integer({ min: 250_000, max: 1_200_000 }).map((size) => `{"a":"${'x'.repeat(size)}"}`),
  fc.integer({ min: 10_000, max: 60_000 }).map((count) => `[${'1,'.repeat(count)}1]`),
);

/** A body as a client would put it on the wire: valid JSON of `value`, or something worse. */
export function bodyText(value: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: value.map(jsonText) },
    { weight: 1, arbitrary: deepJsonValue.map((deep) => deep.toText()) },
    { weight: 1, arbitrary: brokenJsonText },
    { weight: 1, arbitrary: anyValue.map(jsonText) },
  );
}

/** A Relay global id as Pothos makes it: base64 of `Type:id`. */
export const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');

/** Ids that name something: the rival's (raw, global, forged under another type), random UUIDs, hostile text. */
export function forgedId(rival: Rival, own: readonly string[] = []): fc.Arbitrary<string> {
  const rivals = [...rival.apps, ...rival.addons, ...rival.attachments, ...rival.instances, ...rival.bindings];
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...rivals) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom('App', 'Addon', 'Attachment', 'Plan', 'Service', 'Provider', 'Organization', 'Release'),
          fc.constantFrom(...rivals),
        )
        .map(([type, id]) => globalId(type, id)),
    },
    { weight: 1, arbitrary: fc.uuid().map(String) },
    { weight: 1, arbitrary: fc.uuid().map((id) => globalId('App', id)) },
    ...(own.length > 0 ? [{ weight: 2, arbitrary: fc.constantFrom(...own) }] : []),
    { weight: 3, arbitrary: hostileString },
  );
}

/** A path segment: as a well-behaved client encodes it, raw, or double-encoded. */
export function pathSegment(id: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: id.map((value) => encodeURIComponent(value.replaceAll(/[\ud800-\udfff]/g, '\ufffd'))) },
    {
      weight: 1,
      arbitrary: id.map((value) => encodeURIComponent(encodeURIComponent(value.replaceAll(/[\ud800-\udfff]/g, '')))),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '%00',
        '%0a',
        '%',
        '%zz',
        '%C0%80',
        '%ED%A0%80',
        '..',
        '.',
        '%2e%2e',
        '%2F',
        'a%00b',
        '%FF',
      ),
    },
  );
}

/** Authorization headers that are not the caller's own: absent, malformed, unknown tokens, garbage. */
export const hostileAuthorization: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constantFrom(
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Bearer annex_org_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'Bearer annex_admin_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'Basic',
    'Basic !!!',
    `Basic ${Buffer.from('no-colon').toString('base64')}`,
    'Digest username="x"',
    `Bearer ${'a'.repeat(5000)}`,
  ),
  hostileString.map((text) => `Bearer ${text.slice(0, 1000)}`),
);

/** Basic credentials with hostile usernames and passwords (NUL, control characters, unicode, huge). */
export const hostileBasic: fc.Arbitrary<string> = fc
  .tuple(hostileString, hostileString)
  .map(([username, password]) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`);

/** Odd headers on any request: content types, charsets, encodings, versions, identities. */
export const oddHeaders: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset="utf-16"',
      'APPLICATION/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/graphql',
      '',
    ),
    'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x-unknown'),
    accept: fc.constantFrom(
      'application/json',
      'text/event-stream',
      'text/html',
      '*/*',
      'application/graphql-response+json',
    ),
    'x-request-id': hostileHeaderText,
    'if-none-match': fc.constantFrom('"release-1"', '*', 'W/"x"', ''),
  },
  { requiredKeys: [] },
);

/** The attacker's valid header values for each API (so most requests get past authentication). */
export function attackerTokens(attacker: Attacker) {
  return {
    api: [`Bearer ${attacker.orgToken}`, `Bearer ${attacker.platformToken}`],
    provider: [`Bearer ${attacker.providerToken}`],
    osb: [
      `Basic ${Buffer.from(`${attacker.osb.username}:${attacker.osb.password}`).toString('base64')}`,
      `Bearer ${attacker.platformToken}`,
    ],
  };
}
