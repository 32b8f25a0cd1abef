import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { type DocumentNode, GraphQLError, type Token } from 'graphql';
import type { Plugin, YogaServerOptions } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/** What one GraphQL document may cost the catalog before and while it is parsed and validated. */
export interface DocumentLimits {
  /** UTF-8 bytes of the `query` text (variables travel apart, under the body limit). */
  maxQueryBytes: number;
  /** Lexical tokens (names, punctuation, values): parsing stops at the first one over. */
  maxTokens: number;
  /** Directives in the operation, through its fragments. */
  maxDirectives: number;
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
}

/**
 * Validation errors reported at most; validation stops at the next one. Each error's
 * `locations` is computed by scanning the query text, and no client needs a hundred.
 */
export const MAX_VALIDATION_ERRORS = 20;

/** The code of every error refusing a document for its size. */
const QUERY_TOO_LARGE = 'QUERY_TOO_LARGE';

/**
 * Bounds the work a document can cause before it runs: its text is measured before it is
 * parsed, parsing stops at the token limit, validation at `MAX_VALIDATION_ERRORS`, and
 * depth, aliases, directives and cost are checked while validating. Without these, one
 * anonymous 5 MB document of repeated directives held the event loop for seconds.
 * Parsed and validated documents are cached (`parserCache`), so a repeated document
 * costs a lookup.
 */
export function documentLimits(limits: DocumentLimits): Plugin[] {
  const tooLarge = (message: string) =>
    new GraphQLError(message, { extensions: { code: QUERY_TOO_LARGE, http: { status: 400, spec: true } } });
  const size: Plugin = {
    onParams({ params, setResult }) {
      const query = params.query;
      // A UTF-16 unit is at most 3 UTF-8 bytes: a short text needs no counting.
      if (typeof query !== 'string' || query.length * 3 <= limits.maxQueryBytes) return;
      const bytes = Buffer.byteLength(query);
      if (bytes > limits.maxQueryBytes) {
        setResult({
          errors: [
            tooLarge(
              `the query is ${bytes} bytes, over the limit of ${limits.maxQueryBytes}; send values as variables`,
            ),
          ],
        });
      }
    },
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, { ...options, maxTokens: limits.maxTokens });
        } catch (error) {
          // graphql-js: "Document contains more that N tokens" (sic).
          if (error instanceof GraphQLError && /contains more th(an|at) \d+ tokens/.test(error.message)) {
            throw tooLarge(`the query has more than ${limits.maxTokens} tokens, the limit`);
          }
          throw error;
        }
      });
    },
    onValidate({ validateFn, setValidationFn }) {
      setValidationFn((schema, document, rules, options, typeInfo) =>
        validateFn(schema, document, rules, { ...options, maxErrors: MAX_VALIDATION_ERRORS }, typeInfo),
      );
    },
  };
  return [
    size,
    maxDirectivesPlugin({ n: limits.maxDirectives, exposeLimits: true, onReject: [(_, error) => markTooLarge(error)] }),
    maxDepthPlugin({ n: limits.maxDepth, ignoreIntrospection: true, exposeLimits: true }),
    maxAliasesPlugin({ n: limits.maxAliases, exposeLimits: true }),
    costLimitPlugin({ maxCost: limits.maxCost, ignoreIntrospection: true, exposeLimits: true }),
  ];
}

function markTooLarge(error: GraphQLError): void {
  (error.extensions as Record<string, unknown>).code = QUERY_TOO_LARGE;
}

/**
 * Yoga's parser and validation cache, bounded in bytes rather than in entries: a parsed
 * document keeps every token and node (about 400 bytes a token), so yoga's default of
 * 1,024 documents, sent different each time, could hold hundreds of megabytes. Validation
 * results are kept as long as their document.
 */
export function parserCache(): Exclude<
  YogaServerOptions<object, object>['parserAndValidationCache'],
  boolean | undefined
> {
  const ttl = 60 * 60 * 1000;
  return {
    documentCache: new LRUCache<string, DocumentNode>({
      maxSize: 32 * 1024 * 1024,
      ttl,
      sizeCalculation: (document, text) => text.length * 2 + 400 * tokenCount(document),
    }),
    errorCache: new LRUCache<string, object>({
      maxSize: 8 * 1024 * 1024,
      ttl,
      sizeCalculation: (_error, text) => text.length * 2 + 1024,
    }),
  };
}

function tokenCount(document: DocumentNode): number {
  let count = 0;
  for (let token: Token | null | undefined = document.loc?.startToken; token; token = token.next) count++;
  return count;
}
