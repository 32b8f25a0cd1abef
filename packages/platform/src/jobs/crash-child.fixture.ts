// A runner in a child process that claims one `test.hang` job, says so, and hangs on it:
// runner.test.ts kills it with SIGKILL, as a crashed replica dies. Arguments: the target as JSON, the lease in ms.
import { type DatabaseTarget, openDatabase } from '../db/database.js';
import { createLogger } from '../log.js';
import { createJobRunner } from './runner.js';

const target = JSON.parse(process.argv[2] ?? '') as DatabaseTarget;
const database = await openDatabase(target);
const runner = createJobRunner<{ 'test.hang': { n: number } }>(database, {
  logger: createLogger('crash-child', 'silent'),
  leaseMs: Number(process.argv[3]),
  kinds: {
    'test.hang': async () => {
      process.stdout.write('claimed\n');
      await new Promise(() => {});
    },
  },
});
await runner.start();
