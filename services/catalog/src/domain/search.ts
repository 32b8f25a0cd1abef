/**
 * Turns what a user typed into a safe `to_tsquery` expression: words only (no operators
 * from the input reach PostgreSQL), all of them required, the last one as a prefix so
 * results appear while typing ("postg" finds Postgres). `null` when nothing searchable
 * is left.
 *
 * @example
 * searchQuery('managed postg') // "managed & postg:*"
 */
export function searchQuery(input: string): string | null {
  const words = (
    input
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  )
    .slice(0, 8)
    .map((w) => w.slice(0, 64));
  if (words.length === 0) return null;
  return words.map((w, i) => (i === words.length - 1 ? `${w}:*` : w)).join(' & ');
}
