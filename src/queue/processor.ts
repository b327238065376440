/**
 * The sandboxed processor of `vitas worker`: BullMQ forks this module into a child process, so
 * CPU-bound jobs never block the parent's lock renewal. One backend per child, set up once;
 * the child is reused for the next job, keeping its evaluators and data.
 */
import { WaitingError, type SandboxedJob } from 'bullmq';
import { initBackend } from '../backend/index.js';
import type { JobData } from './jobs.js';
import { runJob } from './run-job.js';

await initBackend(); // VITAS_BACKEND, passed down by the worker, picks the same backend as the parent asked for

// a parent killed with SIGKILL cannot stop its children: leave at the next turn of the event loop
process.on('disconnect', () => process.exit(0));

/**
 * `abort` is the worker's hand-back (worker.cancelJob): a retrain saves its checkpoint after the
 * current step, and the job goes back to waiting, neither done nor failed, so the worker that
 * takes it next continues from that step. Other jobs ignore it; the worker moves them back itself.
 */
export default async function process_(job: SandboxedJob<JobData>, token?: string, abort?: AbortSignal): Promise<unknown> {
  const signal = { stop: abort?.aborted ?? false };
  abort?.addEventListener('abort', () => {
    signal.stop = true;
  });
  const r = await runJob(job.data, undefined, signal);
  if ('stopped' in r && r.stopped) {
    await job.moveToWait(token);
    throw new WaitingError();
  }
  return r;
}
