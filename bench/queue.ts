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
const ROUNDS = 3;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rates: Record<string, number[]> = { one: [], threads: [], q1: [], q2: [] };

const workers: ChildProcess[] = [await startWorker(url, 'w1')];
await warm(url, 'w1');
const local = new ProxyEvaluator(space, { seed: 0, batch: 1 });
await local.evaluate(fresh(4));
const threads = new ParallelProxyEvaluator(space, { seed: 0, batch: 1, workers: 2 });
await threads.evaluate(fresh(4));
// every row of a round scores the same specs, new to every evaluator: the 2-worker rows use another
// proxy seed, so no job process has them cached (a proxy score's cost does not depend on its seed)
const sets = Array.from({ length: ROUNDS }, () => fresh(N));
const q1 = new QueueEvaluator(url, { name: 'proxy', space, seed: 1, batch: 1 });
await q1.evaluate(fresh(2));
for (const specs of sets) {
  rates.one!.push((await rate(local, specs)).perSecond);
  rates.threads!.push((await rate(threads, specs)).perSecond);
  rates.q1!.push((await rate(q1, specs)).perSecond);
}
local.dispose();
threads.dispose();
workers.push(await startWorker(url, 'w2'));
await warm(url, 'w2');
const q2 = new QueueEvaluator(url, { name: 'proxy', space, seed: 2, batch: 1 });
await q2.evaluate(fresh(4));
for (const specs of sets) rates.q2!.push((await rate(q2, specs)).perSecond);

// overhead: jobs whose work is nothing (cost model, microseconds), one per spec
const cost = new QueueEvaluator(url, { name: 'cost', metric: 'macs', convention: 'macs' });
await cost.evaluate(fresh(10));
const trivial = await rate(cost, fresh(300));
for (const w of workers) w.kill('SIGINT');
await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
await redis.stop();

const perCandidateMs = 1000 / median(rates.one!);
const rows: [string, number, number?][] = [
  ['in process, 1 thread', median(rates.one!)],
  ['in process, 2 worker threads (vitas search)', median(rates.threads!)],
  ['queue, 1 worker', median(rates.q1!), perCandidateMs],
  ['queue, 2 workers', median(rates.q2!), perCandidateMs / 2],
];
console.log(`proxy on the fmnist space: ${ROUNDS} rounds of ${N} fresh candidates (the same ones in every row of a round), one spec per job; median of the rounds\n`);
console.log(
  markdownTable(
    ['scored', 'candidates/s', 'vs 1 thread', 'extra ms/candidate'],
    rows.map(([what, v, ideal]) => [what, v.toFixed(2), `${(v / median(rates.one!)).toFixed(2)}×`, ideal === undefined ? '' : (1000 / v - ideal).toFixed(1)]),
    ['left', 'right', 'right', 'right'],
  ),
);
console.log(`\nrounds (candidates/s): ${Object.entries(rates).map(([k, v]) => `${k} ${v.map((x) => x.toFixed(1)).join(' / ')}`).join('; ')}`);
console.log(`per-job overhead (300 cost-model jobs, 2 workers, no work in them): ${trivial.perSecond.toFixed(0)} jobs/s, ${(1000 / trivial.perSecond).toFixed(2)} ms per job`);
