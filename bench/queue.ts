/**
 * The job queue's cost: candidates/s scored by the training-free proxy on the `fmnist` space in
 * this process (one thread; two worker threads, what `vitas search` uses) and through BullMQ +
 * Redis on 1 and 2 `vitas worker` processes (one spec per job), and the per-job overhead: the
 * round trip of a job whose work is nothing (the cost evaluator). Workers are warm (their job
 * process has loaded tfjs) before each timing; every timing scores specs no one has scored yet.
 * Run: npm run bench:queue (under flock /tmp/vitas-heavy.lock on a shared machine).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Queue, type Job } from 'bullmq';
import { initBackend, markdownTable, ParallelProxyEvaluator, parseQueueUrl, presetSpace, ProxyEvaluator, QUEUE_NAME, QueueEvaluator, Rng, sampleSpec, specKey, type ArchSpec, type Evaluator } from '../src/index.js';
import { ROOT } from '../test/helpers.js';
import { testRedis } from '../test/redis.js';

const N = 60;
const space = presetSpace('fmnist');
const rng = new Rng('bench-queue');
const seen = new Set<string>();
/** `n` specs never drawn before in this run. */
function fresh(n: number): ArchSpec[] {
  const out: ArchSpec[] = [];
  while (out.length < n) {
    const s = sampleSpec(space, rng);
    if (!seen.has(specKey(s))) {
      seen.add(specKey(s));
      out.push(s);
    }
  }
  return out;
}

async function rate(e: Evaluator, specs: ArchSpec[]): Promise<{ perSecond: number; seconds: number }> {
  const t0 = performance.now();
  await e.evaluate(specs);
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: specs.length / seconds, seconds };
}

function startWorker(url: string, name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'worker', '--queue', url, '--name', name], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('taking jobs')) resolve(child);
    });
    child.once('exit', () => reject(new Error(`worker ${name} exited: ${err}`)));
  });
}

/** Score fresh specs until `name` has done a job, so its job process is up. */
async function warm(url: string, name: string): Promise<void> {
  const q = new Queue(QUEUE_NAME, { connection: parseQueueUrl(url) });
  const proxy = new QueueEvaluator(url, { name: 'proxy', space, seed: 0, batch: 1 });
  for (;;) {
    await proxy.evaluate(fresh(2));
    if (((await q.getJobs(['completed'])) as Job[]).some((j) => j.processedBy === name)) break;
  }
  await q.close();
}

await initBackend();
const redis = await testRedis();
if (!redis) throw new Error('bench:queue needs redis-server on PATH (apt-get install redis-server) or VITAS_REDIS_URL');
const url = redis.url(9);
await redis.flush(9);
const rows: string[][] = [];
const row = (what: string, r: { perSecond: number; seconds: number }, perCandidateMs?: number): void => {
  rows.push([what, r.perSecond.toFixed(2), r.seconds.toFixed(2), perCandidateMs === undefined ? '' : (1000 / r.perSecond - perCandidateMs).toFixed(1)]);
};

const local = new ProxyEvaluator(space, { seed: 0, batch: 1 });
await local.evaluate(fresh(4));
const one = await rate(local, fresh(N));
local.dispose();
const perCandidateMs = 1000 / one.perSecond;
row('in process, 1 thread', one);
const threads = new ParallelProxyEvaluator(space, { seed: 0, batch: 1, workers: 2 });
await threads.evaluate(fresh(4));
row('in process, 2 worker threads (vitas search)', await rate(threads, fresh(N)));
threads.dispose();

const workers: ChildProcess[] = [await startWorker(url, 'w1')];
const queued = new QueueEvaluator(url, { name: 'proxy', space, seed: 0, batch: 1 });
await warm(url, 'w1');
row('queue, 1 worker', await rate(queued, fresh(N)), perCandidateMs);
workers.push(await startWorker(url, 'w2'));
await warm(url, 'w2');
row('queue, 2 workers', await rate(queued, fresh(N)), perCandidateMs / 2);

// overhead: jobs whose work is nothing (cost model, microseconds), one per spec
const cost = new QueueEvaluator(url, { name: 'cost', metric: 'macs', convention: 'macs' });
await cost.evaluate(fresh(10));
const trivial = await rate(cost, fresh(200));
for (const w of workers) w.kill('SIGINT');
await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
await redis.stop();

console.log(`proxy on the fmnist space, ${N} fresh candidates per row, one spec per job; ${perCandidateMs.toFixed(1)} ms per candidate in one thread\n`);
console.log(markdownTable(['scored', 'candidates/s', 'seconds', 'overhead ms/candidate'], rows, ['left', 'right', 'right', 'right']));
console.log(`\nper-job overhead (200 cost-model jobs, 2 workers, no work in them): ${trivial.perSecond.toFixed(0)} jobs/s, ${(1000 / trivial.perSecond).toFixed(2)} ms per job`);
