import { describe, expect, it } from 'vitest';
import { StatementBatcher } from './batcher.js';

/** A fake statement: records each batch it was given and answers once released. */
function fakeStatement(fail: (row: number) => boolean = () => false) {
  const batches: number[][] = [];
  const waiting: (() => void)[] = [];
  const run = (rows: readonly number[]) => {
    batches.push([...rows]);
    return new Promise<(string | undefined)[]>((resolve, reject) => {
      waiting.push(() => {
        if (rows.some(fail)) reject(new Error(`row ${rows.find(fail)} is bad`));
        else resolve(rows.map((row) => (row % 2 === 0 ? `even ${row}` : undefined)));
      });
    });
  };
  const releaseAll = async () => {
    while (waiting.length > 0) {
      for (const release of waiting.splice(0)) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { run, batches, releaseAll };
}

describe('StatementBatcher', () => {
  it('sends a lone row at once and collects the rows that arrive meanwhile into the next statement', async () => {
    const statement = fakeStatement();
    const batcher = new StatementBatcher(statement.run);
    const first = batcher.submit(2);
    expect(statement.batches).toEqual([[2]]);
    const more = [batcher.submit(3), batcher.submit(4), batcher.submit(6)];
    expect(statement.batches).toEqual([[2]]);
    await statement.releaseAll();
    expect(await first).toBe('even 2');
    expect(await Promise.all(more)).toEqual([undefined, 'even 4', 'even 6']);
    expect(statement.batches).toEqual([[2], [3, 4, 6]]);
  });

  it('runs up to maxInFlight statements at once and caps the rows of one statement', async () => {
    const statement = fakeStatement();
    const batcher = new StatementBatcher(statement.run, { maxInFlight: 2, maxBatch: 2 });
    const all = [1, 2, 3, 4, 5, 6].map((row) => batcher.submit(row));
    expect(statement.batches).toEqual([[1], [2]]);
    await statement.releaseAll();
    await Promise.all(all);
    expect(statement.batches).toEqual([[1], [2], [3, 4], [5, 6]]);
  });

  it('retries a failed statement row by row, so a bad row fails only its own request', async () => {
    const statement = fakeStatement((row) => row === 5);
    const batcher = new StatementBatcher(statement.run);
    const first = batcher.submit(2);
    const rest = [4, 5, 6].map((row) => batcher.submit(row).then(String, (error: Error) => error.message));
    await statement.releaseAll();
    expect(await first).toBe('even 2');
    expect(await Promise.all(rest)).toEqual(['even 4', 'row 5 is bad', 'even 6']);
    expect(statement.batches).toEqual([[2], [4, 5, 6], [4], [5], [6]]);
  });
});
