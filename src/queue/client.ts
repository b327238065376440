/**
 * The controller's side of the queue: submit jobs (or re-attach to the ones already there, done
 * or in flight, since ids are content hashes), wait for their results, and report a job that
 * failed every attempt instead of waiting on it forever.
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import { VitasError } from '../errors.js';
import { describeQueue, parseQueueUrl, QUEUE_NAME } from './connection.js';
import { describeJob, jobId, type JobData } from './jobs.js';

export interface QueueRunOptions {
  /** attempts per job before it ends failed (3) */
  attempts?: number;
  /** first retry delay; doubles every attempt (1000 ms) */
  backoffMs?: number;
  /** a progress line this often while waiting (30 s) */
  progressMs?: number;
  onLog?(message: string): void;
  /** set `stop` (Ctrl-C) to stop waiting: the jobs stay on the queue, and the same call again re-attaches to them */
  signal?: { stop: boolean };
  /** each job's result as soon as it finishes (`index` into `jobs`, every index of a job given twice), so a stopped caller keeps what finished */
  onResult?(index: number, result: unknown): void;
}

export interface JobsReport {
  jobs: number;
  /** submitted now */
  added: number;
  /** already on the queue (a resumed or repeated controller): waited for, not redone */
  reattached: number;
  /** of those, already completed */
  alreadyDone: number;
  /** found failed from an earlier run and put back for another try */
  retried: number;
}

const CONNECT_TIMEOUT_MS = 10_000;

/** A queue handle after checking Redis answers (ioredis would otherwise retry silently forever). */
export async function openQueue(url: string): Promise<Queue> {
  const queue = new Queue(QUEUE_NAME, { connection: parseQueueUrl(url) });
  let timer: NodeJS.Timeout | undefined;
  let onError: (e: Error) => void = () => undefined;
  // always listened to: ioredis reports every failed reconnect, and reconnects by itself
  queue.on('error', (e) => onError(e));
  const unreachable = new Promise<never>((_, reject) => {
    const fail = (why: string): void => reject(new VitasError(`--queue: cannot reach Redis at ${describeQueue(url)} (${why}); start one (redis-server) or fix the URL`));
    timer = setTimeout(() => fail(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`), CONNECT_TIMEOUT_MS);
    onError = (e) => fail(e.message);
  });
  try {
    await Promise.race([queue.waitUntilReady(), unreachable]);
  } catch (e) {
    await queue.close();
    throw e;
  } finally {
    clearTimeout(timer);
    onError = () => undefined;
  }
  return queue;
}

/** Run `jobs` on the queue's workers; results in the order of `jobs`. */
export async function runJobs<R>(url: string, jobs: JobData[], o: QueueRunOptions = {}): Promise<{ results: R[]; report: JobsReport; stopped?: boolean }> {
  const log = (m: string): void => o.onLog?.(m);
  const ids = jobs.map(jobId);
  const unique = new Map(ids.map((id, i) => [id, jobs[i]!]));
  const report: JobsReport = { jobs: unique.size, added: 0, reattached: 0, alreadyDone: 0, retried: 0 };
  if (unique.size === 0) return { results: [], report };
  const queue = await openQueue(url);
  const events = new QueueEvents(QUEUE_NAME, { connection: parseQueueUrl(url) });
  let ticker: NodeJS.Timeout | undefined;
  try {
    await events.waitUntilReady(); // listening before submitting, so no completion is missed
    queue.setMaxListeners(unique.size + 10); // each job waited for listens for the queue closing
    const handles = new Map<string, Job>();
    for (const [id, data] of unique) handles.set(id, await submit(queue, id, data, o, report));
    log(`queue: ${report.jobs} job(s): ${report.added} new, ${report.reattached} re-attached (${report.alreadyDone} already done)${report.retried ? `, ${report.retried} failed before and retried` : ''}`);
    let done = 0;
    ticker = setInterval(() => {
      void queue.getWorkersCount().then(
        (n) => log(`queue: ${done}/${report.jobs} job(s) done; ${n} worker(s) connected${n ? '' : ` — start one: vitas worker --queue ${describeQueue(url)}`}`),
        () => undefined,
      );
    }, o.progressMs ?? 30_000);
    const results = new Map<string, unknown>();
    let poll: NodeJS.Timeout | undefined;
    const stop = new Promise<'stopped'>((resolve) => {
      if (o.signal) poll = setInterval(() => o.signal!.stop && resolve('stopped'), 100);
    });
    const all = Promise.all(
      [...handles].map(async ([id, job]) => {
        try {
          const r: unknown = await job.waitUntilFinished(events);
          results.set(id, r);
          done++;
          if (o.onResult) ids.forEach((x, i) => x === id && o.onResult!(i, r));
        } catch (e) {
          const failed = await queue.getJob(id);
          const attempts = failed?.attemptsMade ?? '?';
          throw new VitasError(`queue: job ${id} (${describeJob(unique.get(id)!)}) failed after ${attempts} attempt(s): ${failed?.failedReason ?? (e as Error).message}; \`vitas queue status --queue ${describeQueue(url)}\` lists the failures`);
        }
      }),
    );
    try {
      if ((await Promise.race([all, stop])) === 'stopped') {
        all.catch(() => undefined); // the waits end when the connections close below
        log(`queue: stopped waiting with ${done}/${report.jobs} job(s) done; the rest stay on the queue`);
        return { results: [], report, stopped: true };
      }
    } finally {
      clearInterval(poll);
    }
    return { results: ids.map((id) => results.get(id) as R), report };
  } finally {
    clearInterval(ticker);
    await events.close();
    await queue.close();
  }
}

/** Add the job, or re-attach to the one with its id; a job left failed by an earlier run gets another try. */
async function submit(queue: Queue, id: string, data: JobData, o: QueueRunOptions, report: JobsReport): Promise<Job> {
  const existing = await queue.getJob(id);
  if (existing) {
    const state = await existing.getState();
    if (state === 'failed') {
      await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      report.retried++;
    } else {
      report.reattached++;
      if (state === 'completed') report.alreadyDone++;
    }
    return existing;
  }
  report.added++;
  return queue.add(data.kind, data, {
    jobId: id,
    attempts: o.attempts ?? 3,
    backoff: { type: 'exponential', delay: o.backoffMs ?? 1000 },
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
}
