/**
 * The sandboxed processor of `vitas worker`: BullMQ forks this module into a child process, so
 * CPU-bound jobs never block the parent's lock renewal. One backend per child, set up once;
 * the child is reused for the next job, keeping its evaluators and data.
 */
import type { SandboxedJob } from 'bullmq';
import { initBackend } from '../backend/index.js';
import type { JobData } from './jobs.js';
import { runJob } from './run-job.js';

await initBackend(); // VITAS_BACKEND, passed down by the worker, picks the same backend as the parent asked for

// a parent killed with SIGKILL cannot stop its children: leave at the next turn of the event loop
process.on('disconnect', () => process.exit(0));

export default async function process_(job: SandboxedJob<JobData>): Promise<unknown> {
  return runJob(job.data);
}
