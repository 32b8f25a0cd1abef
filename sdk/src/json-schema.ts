import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const compiled = new WeakMap<object, ValidateFunction>();

/**
 * OSB caps each parameters schema at 64 kB.
 *
 * @example
 * if (Buffer.byteLength(JSON.stringify(schema)) > MAX_SCHEMA_BYTES) throw new Error('schema too large');
 */
export const MAX_SCHEMA_BYTES = 64 * 1024;

function compilerFor(schema: Record<string, unknown>): Ajv {
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : '';
  const options = { allErrors: true, strict: false, validateSchema: true } as const;
  const ajv = dialect.includes('2020-12')
    ? new Ajv2020(options)
    : dialect.includes('2019-09')
      ? new Ajv2019(options)
      : new Ajv(options);
  addFormats(ajv);
  return ajv;
}

/**
 * Checks that a plan's parameters schema is usable: valid JSON Schema, at most 64 kB,
 * and no `$ref` that leaves the document (OSB forbids external references).
 * Returns the problems, empty when it is fine.
 *
 * @example
 * checkParameterSchema({ type: 'object', properties: { x: { $ref: 'https://example.com/s.json' } } });
 * // ['$ref "https://example.com/s.json" points outside the schema; ...']
 */
export function checkParameterSchema(schema: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const size = Buffer.byteLength(JSON.stringify(schema), 'utf8');
  if (size > MAX_SCHEMA_BYTES) problems.push(`schema is ${size} bytes; at most ${MAX_SCHEMA_BYTES} are allowed`);
  for (const ref of collectRefs(schema)) {
    if (!ref.startsWith('#'))
      problems.push(`$ref "${ref}" points outside the schema; only local references (#/...) are allowed`);
  }
  if (problems.length > 0) return problems;
  try {
    compilerFor(schema).compile(schema as AnySchema);
  } catch (error) {
    problems.push(`not a valid JSON Schema: ${(error as Error).message}`);
  }
  return problems;
}

/**
 * One parameter that failed validation: its JSON path (`/size`) and why.
 *
 * @example
 * const problems: ParameterProblem[] = validateParameters(schema, parameters);
 */
export interface ParameterProblem {
  path: string;
  message: string;
}

/**
 * Validates parameters against a plan's schema; returns the problems, each naming the field.
 *
 * @example
 * validateParameters({ type: 'object', properties: { size: { type: 'integer' } } }, { size: 'big' });
 * // [{ path: '/size', message: 'must be integer' }]
 */
export function validateParameters(schema: Record<string, unknown>, parameters: unknown): ParameterProblem[] {
  // Compiling costs far more than validating; a plan's schema object is compiled once.
  let validate = compiled.get(schema);
  if (!validate) {
    validate = compilerFor(schema).compile(schema as AnySchema);
    compiled.set(schema, validate);
  }
  if (validate(parameters)) return [];
  return (validate.errors ?? []).map((error) => {
    const missing =
      error.keyword === 'required' ? `/${String((error.params as { missingProperty?: string }).missingProperty)}` : '';
    const extra =
      error.keyword === 'additionalProperties'
        ? `/${String((error.params as { additionalProperty?: string }).additionalProperty)}`
        : '';
    return { path: `${error.instancePath}${missing}${extra}` || '/', message: error.message ?? 'is invalid' };
  });
}

function collectRefs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) collectRefs(item, found);
  } else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if ((key === '$ref' || key === '$dynamicRef') && typeof child === 'string') found.push(child);
      else collectRefs(child, found);
    }
  }
  return found;
}
