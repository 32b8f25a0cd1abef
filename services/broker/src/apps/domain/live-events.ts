import type { Database, Logger } from '@annex/platform';

/** The channel an app's new event notifies, with the app's id (migration 20261206100200). */
const APP_EVENTS_CHANNEL = 'annex_app_events';
/** The channel a token revoked, re-dated or removed notifies. */
const TOKENS_CHANNEL = 'annex_tokens';

/** One open long poll's view of notifications; subscribe before reading, so nothing falls between. */
export interface EventSubscription {
  /**
   * Resolves at the first of: a notification for the app or for tokens since the last
   * call (at once if one came already), `untilMs` (epoch ms), or `signal` aborting.
   * Says which it was.
   */
  next(untilMs: number, signal: AbortSignal): Promise<'event' | 'token' | 'timeout'>;
  close(): void;
}

interface Waiter {
  pending: 'event' | 'token' | undefined;
  wake: (() => void) | undefined;
}

/**
 * Live events for a process's open long polls. One listener per process (the database's
 * listening connection) hears every app's events and every token change; each poll waits
 * on it instead of reading the database, so an idle stream issues no statement.
 */
export class LiveEvents {
  readonly #database: Database;
  readonly #logger: Logger;
  readonly #waiters = new Map<string, Set<Waiter>>();
  #listening: Promise<boolean> | undefined;

  constructor(database: Database, logger: Logger) {
    this.#database = database;
    this.#logger = logger;
  }

  /** Whether notifications arrive; false when listening failed (the caller then checks on a timer). */
  listening(): Promise<boolean> {
    this.#listening ??= Promise.all([
      this.#database.listen(APP_EVENTS_CHANNEL, (appId) => this.#notify(appId === '' ? undefined : appId, 'event')),
      this.#database.listen(TOKENS_CHANNEL, () => this.#notify(undefined, 'token')),
    ]).then(
      () => true,
      (error: unknown) => {
        this.#logger.warn({ err: error }, 'listening for app events failed; open event polls check on a timer');
        this.#listening = undefined;
        return false;
      },
    );
    return this.#listening;
  }

  subscribe(appId: string): EventSubscription {
    const waiter: Waiter = { pending: undefined, wake: undefined };
    let set = this.#waiters.get(appId);
    if (!set) {
      set = new Set();
      this.#waiters.set(appId, set);
    }
    set.add(waiter);
    const waiters = this.#waiters;
    return {
      next(untilMs, signal) {
        return new Promise((resolve) => {
          const finish = (why: 'event' | 'token' | 'timeout') => {
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            waiter.wake = undefined;
            waiter.pending = undefined;
            resolve(why);
          };
          const onAbort = () => finish('timeout');
          const timer = setTimeout(() => finish('timeout'), Math.max(0, untilMs - Date.now()));
          if (waiter.pending || signal.aborted) return finish(waiter.pending ?? 'timeout');
          signal.addEventListener('abort', onAbort);
          waiter.wake = () => finish(waiter.pending ?? 'event');
        });
      },
      close() {
        const current = waiters.get(appId);
        current?.delete(waiter);
        if (current?.size === 0) waiters.delete(appId);
      },
    };
  }

  #notify(appId: string | undefined, why: 'event' | 'token'): void {
    const sets = appId === undefined ? [...this.#waiters.values()] : [this.#waiters.get(appId) ?? new Set<Waiter>()];
    for (const set of sets) {
      for (const waiter of set) {
        // A token change outranks an event: the poll must check its token before answering.
        if (waiter.pending !== 'token') waiter.pending = why;
        waiter.wake?.();
      }
    }
  }
}
