import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

// graphql-js ends a message with its suggestions: ` Did you mean "services" or "service"?`,
// ` Did you mean the enum value "DATABASES"?`.
const SUGGESTION = / Did you mean .*\?$/s;

/**
 * Removes graphql-js's "Did you mean …?" from every error a response carries: with
 * introspection off, suggestions would otherwise name the schema's fields, arguments,
 * types and enum values one guess at a time. Validation errors and variable errors alike
 * pass through here.
 */
export const hideSuggestions: Plugin = {
  onExecutionResult({ result }) {
    if (Symbol.asyncIterator in (result as object)) return;
    for (const single of Array.isArray(result) ? result : [result]) {
      for (const error of (single as ExecutionResult).errors ?? []) {
        if (SUGGESTION.test(error.message)) error.message = error.message.replace(SUGGESTION, '');
      }
    }
  },
};
