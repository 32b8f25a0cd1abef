import {
  type DefinitionNode,
  type DocumentNode,
  type FieldNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isInputObjectType,
  isListType,
  isScalarType,
  Kind,
  type OperationDefinitionNode,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Marks a `String` argument or input field as free text (a search, a reason, a password):
 * control characters are allowed there. Everywhere else a string is a name, slug or id.
 *
 * @example
 * reason: t.string({ required: false, extensions: FREE_TEXT })
 */
export const FREE_TEXT = Object.freeze({ freeText: true });

// C0 controls, DEL and C1 controls.
const CONTROL = /\p{Cc}/u;

/**
 * Refuses, before anything runs, a request whose arguments carry a NUL character anywhere
 * (PostgreSQL cannot store one: it failed as a 500 deep inside a resolver) or a control
 * character where a name, slug or id is expected. One check for every field and
 * argument, literal or variable: the coerced arguments of each field are walked along
 * their input types, JSON values (manifests, parameters, config vars) included, keys too.
 * The answer is a `BAD_USER_INPUT` GraphQL error whose `extensions.field` is the dotted
 * path of the offending value (`input.app`, `manifest.services.0.name`).
 */
export const refuseControlCharacters: Plugin = {
  onExecute({ args, setResultAndStopExecution }) {
    const error = findControlCharacter(args.schema, args.document, args.operationName, args.variableValues);
    if (error) setResultAndStopExecution({ errors: [error] });
  },
  onSubscribe({ args, setResultAndStopExecution }) {
    const error = findControlCharacter(args.schema, args.document, args.operationName, args.variableValues);
    if (error) setResultAndStopExecution({ errors: [error] });
  },
};

/** A field of the document that takes arguments, with its definition in the schema. */
interface ArgumentSite {
  node: FieldNode;
  field: GraphQLField<unknown, unknown>;
}

// The fields taking arguments of each parsed document, per operation. Yoga hands every
// request of the same query text the same parsed document, so the document is walked
// along the schema once, and a request only coerces and inspects its arguments.
const sitesByDocument = new WeakMap<DocumentNode, Map<string, ArgumentSite[]>>();

/**
 * The fields with arguments of the operation and of every fragment, in document order
 * (the order their arguments are inspected in).
 */
function argumentSites(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode) {
  let byOperation = sitesByDocument.get(document);
  if (!byOperation) {
    byOperation = new Map();
    sitesByDocument.set(document, byOperation);
  }
  const key = operation.name?.value ?? '';
  let sites = byOperation.get(key);
  if (sites) return sites;
  const found: ArgumentSite[] = [];
  const typeInfo = new TypeInfo(schema);
  const visitor = visitWithTypeInfo(typeInfo, {
    Field(node) {
      const field = typeInfo.getFieldDef();
      if (field && node.arguments?.length) found.push({ node, field });
    },
  });
  const definitions: DefinitionNode[] = [
    operation,
    ...document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION),
  ];
  for (const definition of definitions) visit(definition, visitor);
  sites = found;
  byOperation.set(key, sites);
  return sites;
}

function findControlCharacter(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: unknown,
): GraphQLError | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const variables = getVariableValues(
    schema,
    operation.variableDefinitions ?? [],
    (rawVariables ?? {}) as Record<string, unknown>,
    { maxErrors: 1 },
  );
  // Variables that do not coerce are refused by execution itself, naming them.
  if (variables.errors) return undefined;
  for (const { node, field } of argumentSites(schema, document, operation)) {
    let values: Record<string, unknown>;
    try {
      values = getArgumentValues(field, node, variables.coerced);
    } catch {
      continue; // not coercible: execution reports it
    }
    for (const argument of field.args) {
      const problem = inspect(values[argument.name], argument.type, argument.name, isFreeText(argument));
      if (problem) {
        const where = node.arguments?.find((a) => a.name.value === argument.name);
        return new GraphQLError(`${problem.path}: ${problem.message}`, {
          ...(where ? { nodes: [where] } : {}),
          extensions: { code: 'BAD_USER_INPUT', field: problem.path, http: { status: 400, spec: true } },
        });
      }
    }
  }
  return undefined;
}

interface Problem {
  path: string;
  message: string;
}

function isFreeText(definition: { extensions?: Readonly<Record<string, unknown>> | null }): boolean {
  return definition.extensions?.freeText === true;
}

/**
 * The first NUL (anywhere) or control character (outside free text and JSON) in `value`,
 * a coerced value of `type`. Iterative: a JSON value may nest deeper than the stack.
 */
function inspect(value: unknown, type: GraphQLInputType, path: string, freeText: boolean): Problem | undefined {
  const pending: { value: unknown; type: GraphQLInputType | undefined; path: string; freeText: boolean }[] = [
    { value, type, path, freeText },
  ];
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { value, path } = item;
    if (value === null || value === undefined) continue;
    // `type` is undefined inside a JSON value: only NUL is refused there.
    const type = item.type && getNullableType(item.type);
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return { path, message: 'must not contain a NUL character (U+0000)' };
      const strict = type !== undefined && !item.freeText && isScalarType(type) && ['String', 'ID'].includes(type.name);
      const control = strict ? CONTROL.exec(value) : null;
      if (control) {
        const codePoint = `U+${(control[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`;
        return { path, message: `must not contain control characters (found ${codePoint})` };
      }
      continue;
    }
    if (typeof value !== 'object' || value instanceof Date) continue;
    if (type && isListType(type)) {
      const items = value as unknown[];
      for (let i = items.length - 1; i >= 0; i--) {
        pending.push({ value: items[i], type: type.ofType, path: `${path}.${i}`, freeText: item.freeText });
      }
    } else if (type && isInputObjectType(type)) {
      const fields = type.getFields();
      for (const [name, field] of Object.entries(fields).reverse()) {
        pending.push({
          value: (value as Record<string, unknown>)[name],
          type: field.type,
          path: `${path}.${name}`,
          freeText: isFreeText(field),
        });
      }
    } else if (type === undefined || getNamedType(type) === type) {
      // A JSON value: every string and every key.
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, inner] = entries[i] as readonly [string, unknown];
        if (key.includes('\u0000'))
          return { path, message: 'must not contain a NUL character (U+0000), in a key either' };
        pending.push({ value: inner, type: undefined, path: `${path}.${key}`, freeText: true });
      }
    }
  }
  return undefined;
}
