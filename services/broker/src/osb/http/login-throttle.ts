/** What `LoginThrottle.begin` hands out: the attempt may verify a password, then says how it went. */
export interface LoginAttempt {
  finish(succeeded: boolean): void;
}

export interface LoginThrottleLimits {
  /** Failed (or still running) verifications allowed per username in a window. */
  perUsername: number;
  /** The same per source address, which several platforms may share (a NAT, a proxy). */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleLimits = { perUsername: 10, perAddress: 30, windowMs: 60_000 };

interface Counter {
  failures: number;
  running: number;
  windowEndsAt: number;
}

const MAX_COUNTERS = 10_000;

/**
 * Failed OSB logins per source address and per username, counted in this process: a
 * password hash costs ~25 ms of CPU, so an attacker must not be able to make the broker
 * spend it at will. Verifications still running count as failures until they succeed, so a
 * burst sent in parallel is cut as surely as one sent in sequence. The counts live in
 * memory: they protect this replica's CPU, and each replica of a broker keeps its own.
 */
export class LoginThrottle {
  readonly #counters = new Map<string, Counter>();
  readonly #limits: LoginThrottleLimits;
  readonly #now: () => number;

  constructor(limits: LoginThrottleLimits = DEFAULT_LOGIN_THROTTLE, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /**
   * A reserved verification for a login from `address` as `username`, or how many seconds
   * to wait when either has used up its window.
   */
  begin(address: string, username: string): LoginAttempt | { retryAfterSeconds: number } {
    const now = this.#now();
    const byAddress = this.#counter(`address:${address}`, now);
    const byUsername = this.#counter(`username:${username}`, now);
    const counters = [byAddress, byUsername];
    let waitMs = 0;
    if (byAddress.failures + byAddress.running >= this.#limits.perAddress) waitMs = byAddress.windowEndsAt - now;
    if (byUsername.failures + byUsername.running >= this.#limits.perUsername) {
      waitMs = Math.max(waitMs, byUsername.windowEndsAt - now);
    }
    if (waitMs > 0) return { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    for (const counter of counters) counter.running += 1;
    let finished = false;
    return {
      finish: (succeeded) => {
        if (finished) return;
        finished = true;
        const at = this.#now();
        for (const counter of counters) {
          counter.running -= 1;
          if (succeeded) continue;
          if (counter.windowEndsAt <= at) this.#restart(counter, at);
          counter.failures += 1;
        }
      },
    };
  }

  #counter(key: string, now: number): Counter {
    let counter = this.#counters.get(key);
    if (!counter) {
      if (this.#counters.size >= MAX_COUNTERS) this.#prune(now);
      counter = { failures: 0, running: 0, windowEndsAt: now + this.#limits.windowMs };
      this.#counters.set(key, counter);
    } else if (counter.windowEndsAt <= now) {
      this.#restart(counter, now);
    }
    return counter;
  }

  #restart(counter: Counter, now: number): void {
    counter.failures = 0;
    counter.windowEndsAt = now + this.#limits.windowMs;
  }

  /** Forgets counters that hold nothing back; under a flood of addresses, every idle one. */
  #prune(now: number): void {
    for (const [key, counter] of this.#counters) {
      if (counter.running === 0 && (counter.windowEndsAt <= now || counter.failures === 0)) {
        this.#counters.delete(key);
      }
    }
    if (this.#counters.size < MAX_COUNTERS) return;
    for (const [key, counter] of this.#counters) {
      if (counter.running === 0) this.#counters.delete(key);
    }
  }
}
