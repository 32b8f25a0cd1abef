/**
 * The local upstream's tokenizer: a word or a single punctuation mark is one token. Not
 * OpenAI's BPE, but deterministic, so tests can compute the exact token counts they expect.
 *
 * @example
 * countTokens('Hello, world!'); // 4
 */
export function tokenize(text: string): string[] {
  return text.match(/[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) ?? [];
}

/** Number of tokens of `text` (see {@link tokenize}). */
export function countTokens(text: string): number {
  return tokenize(text).length;
}

/** Tokens every chat message costs on top of its content (its role and separators). */
export const MESSAGE_OVERHEAD_TOKENS = 3;

/** The prompt tokens of a chat request: each message's content plus its overhead. */
export function promptTokens(messages: readonly { content: string }[]): number {
  return messages.reduce((sum, message) => sum + countTokens(message.content) + MESSAGE_OVERHEAD_TOKENS, 0);
}
