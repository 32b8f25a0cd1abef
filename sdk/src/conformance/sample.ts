type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function resolve(root: Schema, schema: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/')) {
    let target: unknown = root;
    for (const part of ref.slice(2).split('/'))
      target = isSchema(target) ? target[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    if (isSchema(target)) return resolve(root, target);
  }
  return schema;
}

function typeOf(schema: Schema): string | undefined {
  if (typeof schema.type === 'string') return schema.type;
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null') as string | undefined;
  if (schema.properties) return 'object';
  return undefined;
}

/**
 * A small value that satisfies a parameters schema: defaults, examples, consts and enums
 * first, then the least value of the type; objects get their required properties.
 *
 * @example
 * sampleFromSchema({ type: 'object', properties: { size: { type: 'integer', minimum: 2 } }, required: ['size'] });
 * // { size: 2 }
 */
export function sampleFromSchema(schema: Schema | undefined, root: Schema | undefined = schema, depth = 0): unknown {
  if (!schema || !root || depth > 8) return {};
  const s = resolve(root, schema);
  if ('default' in s) return s.default;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    const options = s[key];
    if (Array.isArray(options) && isSchema(options[0]) && key !== 'allOf')
      return sampleFromSchema(options[0], root, depth + 1);
  }
  switch (typeOf(s)) {
    case 'string': {
      if (s.format === 'email') return 'conformance@example.com';
      if (s.format === 'uri' || s.format === 'url') return 'https://example.com/conformance';
      if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      return 'conformance'.padEnd(min, 'x').slice(0, typeof s.maxLength === 'number' ? s.maxLength : undefined);
    }
    case 'integer':
    case 'number': {
      if (typeof s.minimum === 'number') return s.minimum;
      if (typeof s.exclusiveMinimum === 'number') return s.exclusiveMinimum + 1;
      if (typeof s.maximum === 'number') return Math.min(1, s.maximum);
      return 1;
    }
    case 'boolean':
      return false;
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 0;
      return Array.from({ length: min }, () => sampleFromSchema(isSchema(s.items) ? s.items : {}, root, depth + 1));
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = isSchema(s.properties) ? s.properties : {};
      const required = Array.isArray(s.required) ? (s.required as string[]) : [];
      const parts = Array.isArray(s.allOf) ? s.allOf.filter(isSchema) : [];
      for (const part of parts) Object.assign(out, sampleFromSchema(part, root, depth + 1));
      for (const name of required) {
        const property = properties[name];
        out[name] = sampleFromSchema(isSchema(property) ? property : {}, root, depth + 1);
      }
      return out;
    }
    default:
      return null;
  }
}

/**
 * Parameters that break the schema (a property of the wrong type), or undefined when nothing can.
 *
 * @example
 * invalidParameters({ type: 'object', properties: { size: { type: 'integer' } } });
 * // { parameters: { size: 'not-a-number' }, field: 'size' }
 */
export function invalidParameters(
  schema: Schema | undefined,
): { parameters: Record<string, unknown>; field: string } | undefined {
  if (!schema) return undefined;
  const s = resolve(schema, schema);
  const valid = sampleFromSchema(s);
  const base = isSchema(valid) ? valid : {};
  const properties = isSchema(s.properties) ? s.properties : {};
  for (const [name, property] of Object.entries(properties)) {
    if (!isSchema(property)) continue;
    const type = typeOf(resolve(schema, property));
    const wrong =
      type === 'string'
        ? 12345
        : type === 'integer' || type === 'number'
          ? 'not-a-number'
          : type === 'boolean'
            ? 'not-a-boolean'
            : type === 'object' || type === 'array'
              ? 'not-a-structure'
              : undefined;
    if (wrong !== undefined) return { parameters: { ...base, [name]: wrong }, field: name };
  }
  if (s.additionalProperties === false) {
    return { parameters: { ...base, annex_conformance_unknown: true }, field: 'annex_conformance_unknown' };
  }
  return undefined;
}
