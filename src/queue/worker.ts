/**
 * `vitas worker`: takes jobs from the queue until stopped. Jobs run in BullMQ's sandboxed child
 * processes (processor.ts), so this process only talks to Redis and keeps renewing job locks
 * however long a job computes. A worker that dies stops renewing; after `lockDurationMs` another
 * worker's stalled check (every `stalledIntervalMs`) puts its job back in the waiting list.
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type Job, type Queue } from 'bullmq';
import { VitasError } from '../errors.js';
import { openQueue } from './client.js';
import { parseQueueUrl, QUEUE_NAME } from './connection.js';
import { describeJob, type JobData } from './jobs.js';

/** Lock and stall settings (README "Running on many machines"). */
export const WORKER_DEFAULTS = {
  concurrency: 1,
  /** a job's lock lives this long unless renewed (renewed every half of it) */
  lockDurationMs: 30_000,
  /** how often a worker looks for jobs whose lock has expired */
  stalledIntervalMs: 15_000,
  /** a job is put back after at most this many worker deaths; the next one fails it */
  maxStalledCount: 2,
};

export interface QueueWorkerOptions {
  url: string;
  concurrency?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  maxStalledCount?: number;
  /** the backend the job processes load (else VITAS_BACKEND, else the first that loads) */
  backend?: string;
  /** shown by `vitas queue status`; default host:pid */
  name?: string;
  /** how long a hand-back waits for the retrains in hand to save their checkpoints (default 60 s) */
  saveWaitMs?: number;
  onLog?(message: string): void;
}

export interface QueueWorker {
  readonly name: string;
  /** jobs this worker finished, and failed attempts */
  readonly counts: { completed: number; failed: number };
  /** finish the jobs in hand, take no more, shut the job processes down */
  close(): Promise<void>;
  /**
   * put the jobs in hand back on the waiting list (another worker takes them); returns how many.
   * A retrain in hand first saves its checkpoint after its current step (waiting up to
   * `saveWaitMs`); the others go back at once. A job that finishes meanwhile is not handed back.
   */
  handBack(): Promise<number>;
}

/**
 * Poll a job this worker holds until it has left it: 'back' once it waits again or another worker
 * has already taken it (a later attempt), 'gone' once it ended (completed, failed), 'held' if it
 * is still ours after `ms`.
 */
async function leftUs(queue: Queue, job: Job, ms: number): Promise<'back' | 'gone' | 'held'> {
  const t0 = Date.now();
  for (;;) {
    const state = await queue.getJobState(job.id!);
    if (state === 'waiting' || state === 'prioritized' || state === 'delayed') return 'back';
    if (state !== 'active') return 'gone';
    const now = await queue.getJob(job.id!);
    if (now && now.attemptsStarted > job.attemptsStarted) return 'back';
    if (Date.now() - t0 > ms) return 'held';
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startQueueWorker(o: QueueWorkerOptions): Promise<QueueWorker> {
  const connection = parseQueueUrl(o.url);
  const s = {
    concurrency: o.concurrency ?? WORKER_DEFAULTS.concurrency,
    lockDurationMs: o.lockDurationMs ?? WORKER_DEFAULTS.lockDurationMs,
    stalledIntervalMs: o.stalledIntervalMs ?? WORKER_DEFAULTS.stalledIntervalMs,
    maxStalledCount: o.maxStalledCount ?? WORKER_DEFAULTS.maxStalledCount,
  };
  if (!Number.isInteger(s.concurrency) || s.concurrency < 1) throw new VitasError(`--concurrency: ${s.concurrency} must be a positive whole number`);
  await (await openQueue(o.url)).close(); // fail now, in one line, when no Redis answers
  const name = o.name ?? `${hostname()}:${process.pid}`;
  const log = (m: string): void => o.onLog?.(m);
  const active = new Map<string, Job<JobData>>();
  const counts = { completed: 0, failed: 0 };
  const worker = new Worker<JobData>(QUEUE_NAME, fileURLToPath(new URL('./processor.js', import.meta.url)), {
    connection,
    name,
    concurrency: s.concurrency,
    lockDuration: s.lockDurationMs,
    stalledInterval: s.stalledIntervalMs,
    maxStalledCount: s.maxStalledCount,
    // kept so `vitas queue status` can show results, failures and throughput (and a rerun re-attaches)
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
    ...(o.backend ? { workerForkOptions: { env: { ...process.env, VITAS_BACKEND: o.backend } } } : {}),
  });
  worker.on('active', (job) => active.set(job.id!, job));
  worker.on('completed', (job) => {
    active.delete(job.id!);
    counts.completed++;
  });
  worker.on('failed', (job, err) => {
    if (job) active.delete(job.id!);
    counts.failed++;
    log(`job ${job?.id ?? '?'} (${job ? describeJob(job.data) : '?'}) failed: ${err.message}`);
  });
  worker.on('stalled', (id) => log(`job ${id} stalled (its worker stopped renewing the lock): back to waiting`));
  worker.on('error', (err) => log(`error: ${err.message}`));
  await worker.waitUntilReady();
  log(`${name} taking jobs from ${QUEUE_NAME} at ${connection.host}:${connection.port}/${connection.db} (concurrency ${s.concurrency}, lock ${s.lockDurationMs} ms, stalled check every ${s.stalledIntervalMs} ms)`);
  return {
    name,
    counts,
    close: () => worker.close(),
    async handBack() {
      // its own connection: the worker's closes once no job is in hand, which a retrain moving itself back brings about
      const queue = await openQueue(o.url);
      try {
        const handed = await Promise.all([...active.values()].map(async (job) => {
          // a retrain saves its checkpoint after the current step and moves itself back (processor.ts)
          if (job.data.kind === 'retrain' && worker.cancelJob(job.id!, 'handed back')) {
            const left = await leftUs(queue, job, o.saveWaitMs ?? 60_000);
            if (left !== 'held') return left === 'back';
          }
          await job.moveToWait(job.token);
          return true;
        }));
        return handed.filter(Boolean).length;
      } finally {
        await queue.close();
      }
    },
  };
}
