/**
 * The sandboxed processor of `vitas worker`: BullMQ forks this module into a child process, so
 * CPU-bound jobs never block the parent's lock renewal. One backend per child, set up once;
 * the child is reused for the next job, keeping its evaluators and data.
 */
import type { SandboxedJob } from 'bullmq';
import { initBackend } from '../backend/index.js';
import { SAVE_SIGNAL, type JobData, type JobProgress } from './jobs.js';
import { runJob } from './run-job.js';

await initBackend(); // VITAS_BACKEND, passed down by the worker, picks the same backend as the parent asked for

// a parent killed with SIGKILL cannot stop its children: leave at the next turn of the event loop
process.on('disconnect', () => process.exit(0));

// the worker hands the job back: a retrain saves its checkpoint after the current step, so the
// worker that takes the job next continues from there instead of from the last epoch's end
const signal = { stop: false };
process.on(SAVE_SIGNAL, () => {
  signal.stop = true;
});

export default async function process_(job: SandboxedJob<JobData>): Promise<unknown> {
  signal.stop = false;
  await job.updateProgress({ pid: process.pid } satisfies JobProgress);
  const r = await runJob(job.data, undefined, signal);
  if ('stopped' in r && r.stopped) {
    // not a result: the job is going back to the queue. Say so and wait for the worker to exit.
    await job.updateProgress({ saved: true } satisfies JobProgress);
    return new Promise(() => {});
  }
  return r;
}
