import { getOperationAST } from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import type { Plugin } from 'graphql-yoga';

/**
 * Queries and mutations run as code compiled once per document (graphql-jit), not by
 * walking the document for every field of every request: for a listing of 20 services
 * with their plans that walk, its per-field promises and their garbage were about a
 * third of the catalog's CPU per uncached request. The compiled code lives as long as
 * the parsed document does (graphql-jit keys it by the document object, which
 * `parserCache` holds), so it is bounded by that cache.
 *
 * Variables are checked by graphql-js first, so a bad one is refused with graphql-js's
 * message (naming the path and, unless suggestions are hidden, what was meant) rather
 * than graphql-jit's terser one; a document without variables skips this.
 *
 * Subscriptions keep graphql-js: graphql-jit 0.8 does not hand a subscription's root
 * field its arguments (`addonEvents(app:)` saw none), and a subscription is set up once
 * per stream, not per event, so compiling it would gain nothing.
 *
 * The compiler (graphql-jit, with the JSON Schema compiler its serializer uses) loads with
 * the first query, not at start: an idle catalog holds none of it.
 */
export function compiledExecution(): Plugin {
  let jit: Plugin | undefined;
  let loading: Promise<Plugin> | undefined;
  const loaded = (): Promise<Plugin> => {
    loading ??= import('@envelop/graphql-jit').then(
      ({ useGraphQlJit }) => {
        jit = useGraphQlJit() as Plugin;
        return jit;
      },
      (error: unknown) => {
        // A failed load (a file missing mid-deploy, say) fails this request; the next tries again.
        loading = undefined;
        throw error;
      },
    );
    return loading;
  };
  return {
    onExecute(payload) {
      const { args, setResultAndStopExecution } = payload;
      const definitions = getOperationAST(args.document, args.operationName)?.variableDefinitions;
      if (definitions && definitions.length > 0) {
        const coerced = getVariableValues(args.schema, definitions, args.variableValues ?? {}, { maxErrors: 50 });
        if (coerced.errors) {
          setResultAndStopExecution({ errors: coerced.errors });
          return;
        }
      }
      if (jit) return jit.onExecute?.(payload);
      return loaded().then((plugin) => plugin.onExecute?.(payload));
    },
  } as Plugin;
}
