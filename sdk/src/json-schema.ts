import { createRequire } from 'node:module';
import type { Ajv, AnySchema, AnySchemaObject, ValidateFunction } from 'ajv';
import type { Ajv2019 } from 'ajv/dist/2019.js';
import type { Ajv2020 } from 'ajv/dist/2020.js';

// Ajv and its dialects (CommonJS packages) are loaded by the first schema compiled: a process
// that compiles none (an idle service) never holds them.
const require = createRequire(import.meta.url);
let ajvModules:
  | {
      Ajv: typeof Ajv;
      Ajv2019: typeof Ajv2019;
      Ajv2020: typeof Ajv2020;
      AjvDraft04: typeof Ajv;
      addFormats: (ajv: Ajv) => Ajv;
      draft06MetaSchema: AnySchemaObject;
    }
  | undefined;
const ajv = () => {
  ajvModules ??= {
    Ajv: require('ajv').Ajv,
    Ajv2019: require('ajv/dist/2019.js').Ajv2019,
    Ajv2020: require('ajv/dist/2020.js').Ajv2020,
    // ajv-formats and ajv-draft-04 have their export as `default`.
    AjvDraft04: require('ajv-draft-04').default,
    addFormats: require('ajv-formats').default,
    draft06MetaSchema: require('ajv/dist/refs/json-schema-draft-06.json'),
  };
  return ajvModules;
};

const compiled = new WeakMap<object, ValidateFunction>();

/**
 * OSB caps each parameters schema at 64 kB.
 *
 * @example
 * if (Buffer.byteLength(JSON.stringify(schema)) > MAX_SCHEMA_BYTES) throw new Error('schema too large');
 */
export const MAX_SCHEMA_BYTES = 64 * 1024;

const ajvOptions = { allErrors: true, strict: false, validateSchema: true } as const;

/** A JSON Schema dialect a plan's schema may declare with `$schema`, and how it is compiled. */
interface Dialect {
  /** The dialect's meta-schema URI as Ajv knows it. */
  uri: string;
  create(): Ajv;
}

const DIALECTS: readonly Dialect[] = [
  // OSB 2.17 says platforms must support draft-04, and its own catalog example declares it.
  { uri: 'http://json-schema.org/draft-04/schema#', create: () => new (ajv().AjvDraft04)(ajvOptions) },
  {
    uri: 'http://json-schema.org/draft-06/schema#',
    create: () => {
      const draft06 = new (ajv().Ajv)(ajvOptions);
      draft06.addMetaSchema(ajv().draft06MetaSchema);
      // Ajv's draft-07 vocabulary otherwise: if/then/else arrived in draft-07, so a draft-06
      // schema's `if` is an unknown keyword, ignored.
      for (const keyword of ['if', 'then', 'else']) draft06.removeKeyword(keyword);
      return draft06;
    },
  },
  { uri: 'http://json-schema.org/draft-07/schema#', create: () => new (ajv().Ajv)(ajvOptions) },
  { uri: 'https://json-schema.org/draft/2019-09/schema', create: () => new (ajv().Ajv2019)(ajvOptions) },
  { uri: 'https://json-schema.org/draft/2020-12/schema', create: () => new (ajv().Ajv2020)(ajvOptions) },
];

/** No `$schema`: draft-07. */
const DEFAULT_DIALECT = DIALECTS[2] as Dialect;

/** The `$schema` URIs a plan's parameters schema may declare. */
const SUPPORTED_SCHEMA_DIALECTS: readonly string[] = DIALECTS.map((d) => d.uri);

/** The URI without its empty fragment and scheme, so `https://…/draft-07/schema` finds draft-07. */
function dialectKey(uri: string): string {
  return uri
    .trim()
    .replace(/#$/, '')
    .replace(/^https?:\/\//, '');
}

const dialectsByKey = new Map(DIALECTS.map((d) => [dialectKey(d.uri), d]));

/** The dialect a schema declares, or the problem with its `$schema`. */
function dialectOf(schema: Record<string, unknown>): { dialect: Dialect } | { problem: string } {
  const declared = schema.$schema;
  if (declared === undefined) return { dialect: DEFAULT_DIALECT };
  if (typeof declared !== 'string') return { problem: '$schema must be a string naming a JSON Schema dialect' };
  const dialect = dialectsByKey.get(dialectKey(declared));
  if (!dialect) {
    return {
      problem: `$schema "${declared}" is not a JSON Schema dialect Annex supports; use one of ${SUPPORTED_SCHEMA_DIALECTS.join(', ')} (or leave $schema out for draft-07)`,
    };
  }
  return { dialect };
}

/** Compiles a schema with its own dialect; throws with the reason when it cannot. */
function compileSchema(schema: Record<string, unknown>): ValidateFunction {
  const found = dialectOf(schema);
  if ('problem' in found) throw new Error(found.problem);
  const compiler = found.dialect.create();
  ajv().addFormats(compiler);
  // Written as Ajv knows the meta-schema (a trailing `#`, http or https may differ).
  const declared = schema.$schema === undefined ? schema : { ...schema, $schema: found.dialect.uri };
  return compiler.compile(declared as AnySchema);
}

/**
 * Checks that a plan's parameters schema is usable: a dialect it may declare (`$schema`:
 * draft-04, draft-06, draft-07, 2019-09 or 2020-12; none means draft-07), valid against
 * that dialect's meta-schema, at most 64 kB, and no `$ref` that leaves the document (OSB
 * forbids external references). Returns the problems, empty when it is fine.
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
  const dialect = dialectOf(schema);
  if ('problem' in dialect) problems.push(dialect.problem);
  if (problems.length > 0) return problems;
  try {
    compileSchema(schema);
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
 * Validates parameters against a plan's schema, read in the dialect it declares; returns
 * the problems, each naming the field. Throws when the schema itself is unusable (see
 * {@link checkParameterSchema}, which publishing runs first).
 *
 * @example
 * validateParameters({ type: 'object', properties: { size: { type: 'integer' } } }, { size: 'big' });
 * // [{ path: '/size', message: 'must be integer' }]
 */
export function validateParameters(schema: Record<string, unknown>, parameters: unknown): ParameterProblem[] {
  // Compiling costs far more than validating; a plan's schema object is compiled once.
  let validate = compiled.get(schema);
  if (!validate) {
    validate = compileSchema(schema);
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
