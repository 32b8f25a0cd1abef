/** A form field as one string; a field sent twice (or not at all) reads as empty. */
export function formField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  return typeof value === 'string' ? value : '';
}
