/** Prints rows as an aligned table (no colours: output is often piped). */
export function table(
  rows: readonly Record<string, string | number | boolean | null | undefined>[],
  columns: string[],
): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((c) => String(row[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

/** Minor units to a price: 900 usd → $9.00. */
export function money(minor: number, currency: string): string {
  const symbol = currency === 'usd' ? '$' : currency === 'eur' ? '€' : `${currency.toUpperCase()} `;
  return `${symbol}${(minor / 100).toFixed(2)}`;
}
