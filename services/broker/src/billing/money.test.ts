import { describe, expect, it } from 'vitest';
import {
  MONTH_SECONDS,
  monthBounds,
  monthlyCharge,
  periodOf,
  prorationUntilMonthEnd,
  roundCents,
} from './domain/money.js';

const at = (iso: string) => new Date(iso);

describe('ledger arithmetic', () => {
  it('bills per second on a 30-day month', () => {
    const day = monthlyCharge(
      [{ priceCents: 1500, startedAt: at('2026-09-10T00:00:00Z'), endedAt: at('2026-09-11T00:00:00Z') }],
      '2026-09',
      at('2026-12-01T00:00:00Z'),
    );
    expect(day).toEqual({ seconds: 86_400, cents: 50, capped: false });
    const oneSecond = monthlyCharge(
      [{ priceCents: 1500, startedAt: at('2026-09-10T00:00:00Z'), endedAt: at('2026-09-10T00:00:01Z') }],
      '2026-09',
      at('2026-12-01T00:00:00Z'),
    );
    expect(oneSecond.cents).toBeCloseTo(1500 / MONTH_SECONDS, 12);
  });

  it('splits an interval at month boundaries (UTC)', () => {
    const part = { priceCents: 3000, startedAt: at('2026-08-31T12:00:00Z'), endedAt: at('2026-09-01T06:00:00Z') };
    const now = at('2026-12-01T00:00:00Z');
    expect(monthlyCharge([part], '2026-08', now).seconds).toBe(12 * 3600);
    expect(monthlyCharge([part], '2026-09', now).seconds).toBe(6 * 3600);
    expect(monthlyCharge([part], '2026-10', now).seconds).toBe(0);
    expect(monthBounds('2026-12')).toEqual({ start: at('2026-12-01T00:00:00Z'), end: at('2027-01-01T00:00:00Z') });
    expect(periodOf(at('2026-09-30T23:59:59Z'))).toBe('2026-09');
    expect(() => monthBounds('2026-13')).toThrow(/YYYY-MM/);
  });

  it('caps a month at the monthly price: a whole 31-day month costs the price', () => {
    const whole = monthlyCharge(
      [{ priceCents: 1500, startedAt: at('2026-07-15T00:00:00Z'), endedAt: null }],
      '2026-08',
      at('2026-12-01T00:00:00Z'),
    );
    expect(whole.seconds).toBe(31 * 86_400);
    expect(whole).toMatchObject({ cents: 1500, capped: true });
    // An open interval counts only up to now.
    const running = monthlyCharge(
      [{ priceCents: 1500, startedAt: at('2026-11-01T00:00:00Z'), endedAt: null }],
      '2026-11',
      at('2026-11-03T00:00:00Z'),
    );
    expect(running).toEqual({ seconds: 2 * 86_400, cents: 100, capped: false });
  });

  it('prices a plan change per plan, capped at the dearest plan of the month', () => {
    const now = at('2026-12-01T00:00:00Z');
    const change = monthlyCharge(
      [
        { priceCents: 1500, startedAt: at('2026-09-01T00:00:00Z'), endedAt: at('2026-09-11T00:00:00Z') },
        { priceCents: 3000, startedAt: at('2026-09-11T00:00:00Z'), endedAt: at('2026-10-01T00:00:00Z') },
      ],
      '2026-09',
      now,
    );
    expect(change).toEqual({ seconds: 30 * 86_400, cents: 500 + 2000, capped: false });
    const downgrade = monthlyCharge(
      [
        { priceCents: 3000, startedAt: at('2026-10-01T00:00:00Z'), endedAt: at('2026-10-30T00:00:00Z') },
        { priceCents: 1500, startedAt: at('2026-10-30T00:00:00Z'), endedAt: null },
      ],
      '2026-10',
      now,
    );
    // 29 days of 3000 (2900) + 2 days of 1500 (100) = 3000: exactly the cap.
    expect(downgrade.cents).toBe(3000);
  });

  it('prorates an attach until the end of the month and rounds half up', () => {
    const p = prorationUntilMonthEnd(3000, at('2026-11-20T00:00:00Z'));
    expect(p).toEqual({ cents: 1100, from: at('2026-11-20T00:00:00Z'), to: at('2026-12-01T00:00:00Z') });
    expect(roundCents(2.5)).toBe(3);
    expect(roundCents(2.4999)).toBe(2);
  });
});
