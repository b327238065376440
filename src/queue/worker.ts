/**
 * `vitas worker`: takes jobs from the queue until stopped. Jobs run in BullMQ's sandboxed child
 * processes (processor.ts), so this process only talks to Redis and keeps renewing job locks
 * however long a job computes. A worker that dies stops renewing; after `lockDurationMs` another
 * worker's stalled check (every `stalledIntervalMs`) puts its job back in the waiting list.
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { VitasError } from '../space/errors.js';
import { openQueue } from './client.js';
import { parseQueueUrl, QUEUE_NAME } from './connection.js';
import { describeJob, SAVE_SIGNAL, type JobData, type JobProgress } from './jobs.js';

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
   * put the jobs in hand back on the waiting list now (another worker takes them); returns how
   * many. A retrain in hand first saves its checkpoint after its current step (up to `saveWaitMs`).
   */
  handBack(): Promise<number>;
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
  // each job process says its pid when it starts a job, and when it has saved a checkpoint
  const pids = new Map<string, number>();
  const saved = new Map<string, () => void>();
  worker.on('progress', (job, p) => {
    const msg = p as JobProgress;
    if ('pid' in msg) pids.set(job.id!, msg.pid);
    else if ('saved' in msg) saved.get(job.id!)?.();
  });
  /** ask a retrain's process to save after its current step; resolves when it did (or after the wait) */
  const saveInHand = async (job: Job<JobData>): Promise<void> => {
    const pid = pids.get(job.id!);
    if (job.data.kind !== 'retrain' || pid === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve) => {
      saved.set(job.id!, resolve);
      timer = setTimeout(resolve, o.saveWaitMs ?? 60_000);
    });
    try {
      process.kill(pid, SAVE_SIGNAL);
    } catch {
      return; // the process has gone: its last checkpoint is what there is
    }
    await done;
    clearTimeout(timer);
  };
  worker.on('completed', (job) => {
    active.delete(job.id!);
    pids.delete(job.id!);
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
      const jobs = [...active.values()];
      await Promise.all(jobs.map(saveInHand));
      // a job that finished meanwhile has its result: it is not handed back
      const left = jobs.filter((j) => active.has(j.id!));
      await Promise.all(left.map((j) => j.moveToWait(j.token)));
      return left.length;
    },
  };
}
