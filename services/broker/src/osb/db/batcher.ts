/**
 * Group execution of one statement for many concurrent requests ("natural batching").
 *
 * A request's rows go to the database at once when fewer than `maxInFlight` batches are
 * running; otherwise they wait for the next free slot and leave with every row queued by
 * then, as one statement. A lone request therefore waits for nothing, and under load one
 * round trip, one plan execution and one commit serve many requests — on a busy broker
 * the per-statement cost, not the per-row cost, is what the database spends most on.
 *
 * A batch that fails is retried row by row, so one bad row fails only its own request.
 */
export class StatementBatcher<In, Out> {
  readonly #run: (rows: readonly In[]) => Promise<ReadonlyArray<Out | undefined>>;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  #inFlight = 0;
  #queue: Pending<In, Out>[] = [];

  /**
   * @param run executes one statement for `rows` and answers, for each row at the same
   *   index, its result (or undefined when the statement produced none for it).
   * @param options.maxInFlight statements running at once (1: every statement after the
   *   first collects all rows that arrived meanwhile, as PostgreSQL's group commit does).
   */
  constructor(
    run: (rows: readonly In[]) => Promise<ReadonlyArray<Out | undefined>>,
    options: { maxInFlight?: number; maxBatch?: number } = {},
  ) {
    this.#run = run;
    this.#maxInFlight = options.maxInFlight ?? 1;
    this.#maxBatch = options.maxBatch ?? 64;
  }

  /** Runs `row` in the next statement; its result, or undefined when it produced none. */
  submit(row: In): Promise<Out | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, resolve, reject });
      this.#drain();
    });
  }

  #drain(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight++;
      void this.#execute(batch).finally(() => {
        this.#inFlight--;
        this.#drain();
      });
    }
  }

  async #execute(batch: Pending<In, Out>[]): Promise<void> {
    try {
      const results = await this.#run(batch.map((entry) => entry.row));
      for (const [index, entry] of batch.entries()) entry.resolve(results[index]);
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // Some row broke the statement for all: each row on its own, so only it fails.
      await Promise.all(
        batch.map(async (entry) => {
          try {
            entry.resolve((await this.#run([entry.row]))[0]);
          } catch (rowError) {
            entry.reject(rowError);
          }
        }),
      );
    }
  }
}

interface Pending<In, Out> {
  row: In;
  resolve: (out: Out | undefined) => void;
  reject: (error: unknown) => void;
}
