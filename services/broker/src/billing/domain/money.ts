// Pure ledger arithmetic (docs/billing.md "Rules"): per-second charges on a 30-day month,
// capped per add-on and calendar month; calendar months in UTC.

/** The per-second rate divides the monthly price by a 30-day month. */
export const MONTH_SECONDS = 30 * 86_400;

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** `YYYY-MM` of a time, in UTC. */
export function periodOf(at: Date): string {
  return `${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
}

export function isPeriod(value: string): boolean {
  return PERIOD.test(value);
}

/** The first instant of the month and of the next one. */
export function monthBounds(period: string): { start: Date; end: Date } {
  const match = PERIOD.exec(period);
  if (!match) throw new RangeError(`period must be YYYY-MM, got "${period}"`);
  const year = Number(match[1]);
  const month = Number(match[2]) - 1;
  return { start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}

export function previousPeriod(at: Date): string {
  return periodOf(new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1)));
}

export interface IntervalPart {
  priceCents: number;
  startedAt: Date;
  endedAt: Date | null;
}

/** Whole seconds of an interval inside [start, end), the open end counted up to `now`. */
export function secondsWithin(part: IntervalPart, start: Date, end: Date, now: Date): number {
  const from = Math.max(part.startedAt.getTime(), start.getTime());
  const to = Math.min((part.endedAt ?? now).getTime(), end.getTime(), now.getTime());
  return to > from ? Math.floor((to - from) / 1000) : 0;
}

/**
 * One add-on's plan charge for a month, in fractional cents: Σ seconds × price / 30 days,
 * capped at the highest monthly price among the intervals it had in that month.
 */
export function monthlyCharge(
  parts: readonly IntervalPart[],
  period: string,
  now: Date,
): { seconds: number; cents: number; capped: boolean } {
  const { start, end } = monthBounds(period);
  let seconds = 0;
  let raw = 0;
  let cap = 0;
  for (const part of parts) {
    const s = secondsWithin(part, start, end, now);
    if (s === 0) continue;
    seconds += s;
    raw += (s * part.priceCents) / MONTH_SECONDS;
    cap = Math.max(cap, part.priceCents);
  }
  return raw > cap ? { seconds, cents: cap, capped: true } : { seconds, cents: raw, capped: false };
}

/** What attaching now would cost until the month ends (the preflight's proration). */
export function prorationUntilMonthEnd(priceCents: number, now: Date): { cents: number; from: Date; to: Date } {
  const { end } = monthBounds(periodOf(now));
  const charge = monthlyCharge([{ priceCents, startedAt: now, endedAt: null }], periodOf(now), end);
  return { cents: roundCents(charge.cents), from: now, to: end };
}

/** Half-up to a whole cent (amounts are never negative). */
export function roundCents(cents: number): number {
  return Math.round(cents + 1e-9);
}
