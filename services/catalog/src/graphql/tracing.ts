import { currentSpan, type Span, type Tracer, withSpan } from '@annex/tracing';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const operations = new WeakSet<Span>();

/**
 * A span for each GraphQL operation executed inside a traced request, named as
 * OpenTelemetry's GraphQL conventions say (`mutation createAddon`, `query` when anonymous)
 * with `graphql.operation.type` and `graphql.operation.name`; the resolvers' SQL statements
 * and broker calls are its children. A result with errors marks it failed. Execution is
 * wrapped through envelop's instrumentation, so it covers whichever executor runs the
 * document (graphql-jit for queries and mutations). Nothing is recorded for a request that is
 * not sampled; with tracing off the catalog leaves the plugin out.
 */
export function operationSpans(tracer: Tracer): Plugin {
  return {
    instrumentation: {
      execute(_payload: unknown, wrapped: () => unknown) {
        const span = tracer.startSpan('GraphQL operation');
        if (!span.recording) return wrapped();
        operations.add(span);
        return withSpan(span, async () => {
          try {
            await wrapped();
          } catch (error) {
            span.recordError(error);
            throw error;
          } finally {
            span.end();
          }
        });
      },
    },
    onExecute({ args }) {
      const span = currentOperation();
      if (!span) return undefined;
      const operation = getOperationAST(args.document, args.operationName);
      const type = operation?.operation;
      const name = args.operationName ?? operation?.name?.value;
      span.updateName(name ? `${type ?? 'operation'} ${name}` : (type ?? 'GraphQL operation'));
      span.setAttributes({ 'graphql.operation.type': type, 'graphql.operation.name': name });
      return {
        onExecuteDone({ result }) {
          const errors = (result as { errors?: readonly { message: string }[] }).errors;
          if (errors && errors.length > 0) span.setStatus({ code: 'error', message: errors[0]?.message ?? 'error' });
        },
      };
    },
  } as Plugin;
}

function currentOperation(): Span | undefined {
  const span = currentSpan();
  return span && operations.has(span) ? span : undefined;
}
