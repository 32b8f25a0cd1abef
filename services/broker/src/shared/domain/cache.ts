/**
 * A small time-bounded cache for catalog rows read on every request. Entries live a few
 * seconds, so catalog changes published elsewhere show up quickly on every replica.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { until: number; value: Promise<V | undefined> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const now = Date.now();
    const hit = this.#entries.get(key);
    if (hit && hit.until > now) return hit.value;
    if (this.#entries.size >= this.maxEntries) this.#entries.clear();
    const value = load();
    this.#entries.set(key, { until: now + this.ttlMs, value });
    // Failures and misses are not remembered.
    value.then(
      (v) => {
        if (v === undefined) this.#entries.delete(key);
      },
      () => this.#entries.delete(key),
    );
    return value;
  }
}
