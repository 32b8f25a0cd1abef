export { type RetryPolicy, retryDelayMs } from './backoff.js';
export { failedJobs, insertJob as enqueueJob, type JobsExecutor, type NewJob } from './db.js';
export {
  createJobRunner,
  type EnqueueOptions,
  JOBS_CHANNEL,
  type Job,
  type JobHandler,
  type JobKindOptions,
  type JobKinds,
  type JobOutcome,
  type JobRunner,
  type JobRunnerOptions,
  type JobSchedule,
  RetryLaterError,
} from './runner.js';
export { daily, every, hourly, periodStart, type Recurrence } from './schedule.js';
