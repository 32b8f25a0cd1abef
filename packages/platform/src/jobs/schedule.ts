/**
 * When a recurring job runs: once per period of `everyMs` milliseconds, periods starting
 * `offsetMs` after each multiple of `everyMs` since the Unix epoch (UTC). Build one with
 * {@link hourly}, {@link daily} or {@link every}.
 */
export interface Recurrence {
  everyMs: number;
  offsetMs: number;
  /** How the recurrence reads in logs and docs: `hourly at :05`. */
  label: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Every hour at `minute` past (UTC).
 *
 * @example
 * hourly(5) // 00:05, 01:05, 02:05 …
 */
export function hourly(minute = 0): Recurrence {
  if (!Number.isInteger(minute) || minute < 0 || minute > 59) {
    throw new Error(`hourly: minute must be an integer from 0 to 59, got ${minute}`);
  }
  return { everyMs: HOUR, offsetMs: minute * 60_000, label: `hourly at :${String(minute).padStart(2, '0')}` };
}

/**
 * Every day at `hour:minute` UTC.
 *
 * @example
 * daily(3, 30) // 03:30 UTC each day
 */
export function daily(hour = 0, minute = 0): Recurrence {
  if (!Number.isInteger(hour) || hour < 0 || hour > 23) {
    throw new Error(`daily: hour must be an integer from 0 to 23, got ${hour}`);
  }
  if (!Number.isInteger(minute) || minute < 0 || minute > 59) {
    throw new Error(`daily: minute must be an integer from 0 to 59, got ${minute}`);
  }
  const label = `daily at ${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')} UTC`;
  return { everyMs: DAY, offsetMs: hour * HOUR + minute * 60_000, label };
}

/**
 * Every `ms` milliseconds (at least one second), on boundaries every replica computes alike.
 *
 * @example
 * every(60_000) // at the start of each minute
 */
export function every(ms: number): Recurrence {
  if (!Number.isInteger(ms) || ms < 1_000) throw new Error(`every: ms must be an integer of at least 1000, got ${ms}`);
  return { everyMs: ms, offsetMs: 0, label: `every ${ms} ms` };
}

/** The start of the period holding `at`. */
export function periodStart(recurrence: Recurrence, at: number): number {
  const { everyMs, offsetMs } = recurrence;
  return Math.floor((at - offsetMs) / everyMs) * everyMs + offsetMs;
}
