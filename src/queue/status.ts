/** `vitas queue status`: jobs by state with the failure reasons, connected workers and per-worker throughput. */
import type { Job } from 'bullmq';
import { markdownTable } from '../report/markdown.js';
import { openQueue } from './client.js';
import { describeQueue } from './connection.js';
import { describeJob, type JobData } from './jobs.js';

export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

export interface WorkerThroughput {
  worker: string;
  jobs: number;
  /** specs scored (score jobs only) */
  specs: number;
  /** from its first job's start to its last job's end */
  seconds: number;
  jobsPerSecond: number;
  specsPerSecond: number;
}

export interface QueueStatus {
  queue: string;
  counts: Record<(typeof JOB_STATES)[number], number>;
  /** workers connected now */
  workers: string[];
  /** the most recent failed jobs, newest first */
  failures: { id: string; job: string; attempts: number; reason: string; finishedOn: number | null }[];
  /** over the most recent completed jobs (`sample` of them) */
  throughput: WorkerThroughput[];
  sample: number;
}

export async function queueStatus(url: string, opts: { failures?: number; sample?: number } = {}): Promise<QueueStatus> {
  const queue = await openQueue(url);
  try {
    const c = await queue.getJobCounts(...JOB_STATES);
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, c[s] ?? 0])) as QueueStatus['counts'];
    // BullMQ names a worker's connection <prefix>:<queue>:w:<worker name>
    const workers = (await queue.getWorkers()).map((w) => String(w.rawname ?? w.name).replace(/^.*?:w:/, '')).sort();
    const failed = (await queue.getJobs(['failed'], 0, (opts.failures ?? 20) - 1)) as Job<JobData>[];
    const failures = failed.filter(Boolean).map((j) => ({ id: j.id!, job: describeJob(j.data), attempts: j.attemptsMade, reason: j.failedReason, finishedOn: j.finishedOn ?? null }));
    const completed = ((await queue.getJobs(['completed'], 0, (opts.sample ?? 1000) - 1)) as Job<JobData>[]).filter(Boolean);
    return { queue: describeQueue(url), counts, workers, failures, throughput: throughputOf(completed), sample: completed.length };
  } finally {
    await queue.close();
  }
}

function throughputOf(jobs: Job<JobData>[]): WorkerThroughput[] {
  const by = new Map<string, Job<JobData>[]>();
  for (const j of jobs) {
    const w = j.processedBy ?? '(unknown)';
    by.set(w, [...(by.get(w) ?? []), j]);
  }
  return [...by].map(([worker, js]) => {
    const start = Math.min(...js.map((j) => j.processedOn ?? Infinity));
    const end = Math.max(...js.map((j) => j.finishedOn ?? -Infinity));
    const seconds = Math.max(1e-3, (end - start) / 1000);
    const specs = js.reduce((a, j) => a + (j.data.kind === 'score' ? j.data.specs.length : 0), 0);
    return { worker, jobs: js.length, specs, seconds, jobsPerSecond: js.length / seconds, specsPerSecond: specs / seconds };
  }).sort((a, b) => a.worker.localeCompare(b.worker));
}

/** The status as markdown: states, workers, failures, throughput. */
export function statusMarkdown(s: QueueStatus): string {
  const parts = [`queue ${s.queue}: ${s.workers.length} worker(s) connected${s.workers.length ? ` (${s.workers.join(', ')})` : ''}`, ''];
  parts.push(markdownTable([...JOB_STATES], [JOB_STATES.map((k) => String(s.counts[k]))], JOB_STATES.map(() => 'right' as const)), '');
  if (s.failures.length) {
    parts.push('failed jobs (newest first):', '');
    parts.push(markdownTable(['job', 'what', 'attempts', 'reason'], s.failures.map((f) => [f.id, f.job, String(f.attempts), f.reason.replace(/\|/g, '\\|')])), '');
  }
  if (s.throughput.length) {
    parts.push(`throughput per worker (the last ${s.sample} completed jobs):`, '');
    parts.push(
      markdownTable(
        ['worker', 'jobs', 'specs', 'seconds', 'jobs/s', 'specs/s'],
        s.throughput.map((t) => [t.worker, String(t.jobs), String(t.specs), t.seconds.toFixed(1), t.jobsPerSecond.toFixed(2), t.specsPerSecond.toFixed(2)]),
        ['left', 'right', 'right', 'right', 'right', 'right'],
      ),
      '',
    );
  }
  return parts.join('\n');
}
