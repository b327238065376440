import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, type Job } from 'bullmq';
import {
  costOf, fileRef, initBackend, jobId, loadCheckpoint, loadData, loadSupernet, parseQueueUrl, QueueEvaluator, QUEUE_NAME, runAblation, runJobs, runRetrain, search, specKey, SupernetEvaluator, trainSupernet,
  VERSION, VitasError, type Candidate, type DataConfig, type EvaluatorRef, type JobData, type StandaloneJob,
} from '../src/index.js';
import { fixture, ROOT, tinySpace, tinySpec } from './helpers.js';
import { freePort, REDIS_HINT, testRedis, type TestRedis } from './redis.js';

const CLI = join(ROOT, 'dist/src/cli/main.js');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'vitas-queue-'));

interface Run { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

/** A `vitas` process; `done` settles when it exits. */
function vitas(args: string[]): { child: ChildProcess; done: Promise<Run>; err(): string } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const done = new Promise<Run>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out, err })));
  return { child, done, err: () => err };
}

/** `vitas worker` with quick stall detection; resolves once it takes jobs. */
async function worker(url: string, name: string): Promise<ReturnType<typeof vitas>> {
  const w = vitas(['worker', '--queue', url, '--name', name, '--lock-duration', '1500', '--stalled-interval', '500']);
  await until(() => w.err().includes('taking jobs') || w.child.exitCode !== null, 30_000);
  if (!w.err().includes('taking jobs')) throw new Error(`worker ${name} did not start: ${w.err()}`);
  return w;
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Ctrl-C twice: the worker finishes no more jobs, then hands the ones in hand back; its exit. */
async function handBack(w: ReturnType<typeof vitas>): Promise<Run> {
  w.child.kill('SIGINT');
  await until(() => w.err().includes('finishing the job in hand'), 10_000);
  w.child.kill('SIGINT');
  return w.done;
}

const TINY_VIT = { version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 24, mlp: 32 }] } as const;
/** A retrain on the fixture long enough (30 epochs) to be handed back midway. */
const longRetrain = (out: string, seed: number): JobData & { kind: 'retrain' } => ({ kind: 'retrain', spec: TINY_VIT as never, data: fixture('fashion-mnist-mini'), validation: 100, limit: 300, recipe: { epochs: 30, batch: 10, seed }, out });

const openQueue = (url: string): Queue => new Queue(QUEUE_NAME, { connection: parseQueueUrl(url) });
const trajectory = (h: Pick<Candidate, 'spec' | 'score' | 'macs' | 'generation'>[]): unknown[] => h.map((c) => ({ spec: specKey(c.spec), score: c.score, macs: c.macs, generation: c.generation }));
const historyFile = (out: string): Candidate[] => readFileSync(join(out, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Candidate);

describe('queue jobs', () => {
  it('keys a score job by the canonical specs and the evaluator fingerprint', () => {
    const ref: EvaluatorRef = { name: 'proxy', space: tinySpace, seed: 0, batch: 1 };
    const spec = tinySpec();
    const sparse = { ...spec, blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 12, mlp: 8 }, { op: 'identity' }], meta: { score: 1 } } as typeof spec;
    const job = (specs: (typeof spec)[], r: EvaluatorRef = ref): JobData => ({ kind: 'score', evaluator: r, specs });
    expect(jobId(job([sparse]))).to.equal(jobId(job([spec])));
    expect(jobId(job([spec], { ...ref, seed: 1 }))).to.not.equal(jobId(job([spec])));
    expect(jobId(job([tinySpec({ embed: 16 })]))).to.not.equal(jobId(job([spec])));
  });

  it('rejects a queue URL that is not redis://HOST:PORT[/DB], naming the flag', () => {
    expect(() => parseQueueUrl('http://127.0.0.1:6379')).to.throw(VitasError, /^--queue: "http:\/\/127\.0\.0\.1:6379": scheme http: is not allowed; allowed: redis:\/\/HOST:PORT\[\/DB\]$/);
    expect(() => parseQueueUrl('redis://127.0.0.1:6379/x')).to.throw(VitasError, /database "x" must be a whole number/);
    expect(parseQueueUrl('redis://127.0.0.1:7000/3')).to.include({ host: '127.0.0.1', port: 7000, db: 3 });
  });
});

describe('vitas queue status without Redis', () => {
  it('says in one line that no Redis answers at --queue, exit 2', async () => {
    const port = await freePort(); // nothing listens there
    const r = await vitas(['queue', 'status', '--queue', `redis://127.0.0.1:${port}`]).done;
    expect(r.code).to.equal(2);
    expect(r.err.trim()).to.equal(`vitas: --queue: cannot reach Redis at redis://127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}); start one (redis-server) or fix the URL`);
  });
});

describe('job queue on a real redis-server', function () {
  let redis: TestRedis | undefined;
  let dir: string;
  let spaceFile: string;
  const budget = ['--budget', '106624', '--min', '1928'];
  const settings = { population: 6, generations: 3, seed: 3 };
  const searchArgs = (out: string, url: string): string[] => ['search', '--space', spaceFile, ...budget, '--population', '6', '--generations', '3', '--seed', '3', '--out', out, '--queue', url, '--json'];
  let reference: unknown[];

  before(async function () {
    redis = await testRedis();
    if (!redis) {
      console.log(`      (pending: ${REDIS_HINT})`);
      this.skip();
    }
    await initBackend();
    dir = tmp();
    spaceFile = join(dir, 'tiny-space.json');
    writeFileSync(spaceFile, JSON.stringify(tinySpace));
    // the uninterrupted, in-process search every queue run must reproduce exactly
    const r = await search({ space: spaceFile, budget: '106624', min: '1928', evaluator: 'proxy', ...settings, out: join(dir, 'in-process') });
    reference = trajectory(r.state.history);
  });

  after(async () => {
    await redis?.stop();
  });

  it('a search through the queue on two worker processes gives exactly the in-process result', async () => {
    const url = redis!.url(1);
    await redis!.flush(1);
    const workers = [await worker(url, 'wA'), await worker(url, 'wB')];
    const out = join(dir, 'two-workers');
    const r = await vitas(searchArgs(out, url)).done;
    expect(r.code, r.err).to.equal(0);
    expect(trajectory(historyFile(out))).to.deep.equal(reference);
    const q = openQueue(url);
    const done = (await q.getJobs(['completed'])) as Job[];
    await q.close();
    expect(done).to.have.length(18);
    expect(new Set(done.map((j) => j.processedBy))).to.deep.equal(new Set(['wA', 'wB']));
    // Ctrl-C on an idle worker: it stops at once, exit 0
    for (const w of workers) w.child.kill('SIGINT');
    for (const w of workers) expect((await w.done).code).to.equal(0);
  });

  it('a worker killed with SIGKILL mid-job loses nothing: the job is re-run by another and the search ends the same', async () => {
    const url = redis!.url(2);
    await redis!.flush(2);
    const a = await worker(url, 'wA');
    const running = search({ space: spaceFile, budget: '106624', min: '1928', evaluator: 'proxy', ...settings, out: join(dir, 'killed-worker'), queue: url });
    const q = openQueue(url);
    let victim: string | undefined;
    await until(async () => (victim = (await q.getActive())[0]?.id) !== undefined, 30_000, 'an active job');
    a.child.kill('SIGKILL');
    await a.done;
    const b = await worker(url, 'wB');
    const r = await running;
    expect(trajectory(r.state.history)).to.deep.equal(reference);
    const job = (await q.getJob(victim!))!;
    expect(await job.getState()).to.equal('completed');
    expect(job.processedBy).to.equal('wB');
    await q.close();
    b.child.kill('SIGINT');
    await b.done;
  });

  it('a killed controller resumed with --resume re-attaches to the jobs done or in flight and ends with the uninterrupted result', async () => {
    const url = redis!.url(3);
    await redis!.flush(3);
    const q = openQueue(url);
    // hold the workers after generation 1, so the controller dies with generation 2 on the queue
    await q.setGlobalRateLimit(6, 120_000);
    const out = join(dir, 'killed-controller');
    const controller = vitas(searchArgs(out, url));
    const w1 = await worker(url, 'w1');
    const generation = (): number => (existsSync(join(out, 'state.json')) ? (JSON.parse(readFileSync(join(out, 'state.json'), 'utf8')) as { generation: number }).generation : 0);
    await until(async () => generation() === 1 && (await q.getJobCountByTypes('waiting', 'active', 'completed')) === 12, 60_000, 'generation 2 on the queue');
    controller.child.kill('SIGKILL');
    await controller.done;
    w1.child.kill('SIGKILL');
    await w1.done;
    await q.removeGlobalRateLimit();
    const w2 = await worker(url, 'w2');
    await until(async () => (await q.getCompletedCount()) === 12, 60_000, 'generation 2 done with no controller');
    const resumed = await vitas([...searchArgs(out, url), '--resume']).done;
    expect(resumed.code, resumed.err).to.equal(0);
    expect(resumed.err).to.include('queue: 6 job(s): 0 new, 6 re-attached (6 already done)');
    expect(trajectory(historyFile(out))).to.deep.equal(reference);
    const all = (await q.getJobs(['completed'])) as Job[];
    expect(all).to.have.length(18);
    expect(all.every((j) => j.attemptsStarted === 1)).to.equal(true); // nothing ran twice
    await q.close();
    w2.child.kill('SIGINT');
    await w2.done;
  });

  it('vitas worker: a second Ctrl-C hands the job in hand back to the queue, and another worker finishes it', async () => {
    const url = redis!.url(4);
    await redis!.flush(4);
    const a = await worker(url, 'wA');
    const job: StandaloneJob = { kind: 'standalone', spec: tinySpec(), data: { dataset: 'synthetic', validation: 100, limit: 1500, size: 8, channels: 1, classes: 4 }, recipe: { epochs: 4, batch: 32, seed: 0 }, test: false };
    const pending = runJobs(url, [job]);
    const q = openQueue(url);
    await until(async () => (await q.getActiveCount()) === 1, 30_000, 'the job to start');
    const stopped = await handBack(a);
    expect(stopped.code).to.equal(130);
    expect(stopped.err).to.include('handed 1 job(s) back to the queue');
    expect(await (await q.getJob(jobId(job)))!.getState()).to.equal('waiting');
    const b = await worker(url, 'wB');
    const { results } = await pending;
    expect((results[0] as { bestValAccuracy: number }).bestValAccuracy).to.be.within(0, 1);
    expect((await q.getJob(jobId(job)))!.processedBy).to.equal('wB');
    await q.close();
    b.child.kill('SIGINT');
    await b.done;
  });

  it('vitas worker: a retrain handed back saves its checkpoint after the step in hand, and the worker that takes it ends as the uninterrupted run', async () => {
    const url = redis!.url(7);
    await redis!.flush(7);
    const job = longRetrain(join(dir, 'handed-back'), 2);
    const a = await worker(url, 'wA');
    const pending = runJobs(url, [job]);
    const q = openQueue(url);
    await until(async () => (await q.getActiveCount()) === 1, 30_000, 'the retrain to start');
    const stopped = await handBack(a);
    expect(stopped.code, stopped.err).to.equal(130);
    expect(stopped.err).to.include('handed 1 job(s) back to the queue');
    // saved in the middle of an epoch, not only at the last epoch's end
    const meta = loadCheckpoint<{ epoch: number; step: number }>(join(dir, 'handed-back', 'retrain.ckpt')).meta;
    expect(meta.step).to.be.greaterThan(0);
    expect(meta.epoch).to.be.lessThan(30);
    const b = await worker(url, 'wB');
    const { results } = await pending;
    const local = await runRetrain({ spec: job.spec, data: job.data, validation: 100, limit: 300, recipe: job.recipe, out: join(dir, 'handed-back-local'), version: VERSION });
    local.model.dispose();
    const r = results[0] as { bestValAccuracy: number; test: { top1: number } };
    expect(r.bestValAccuracy).to.equal(local.bestValAccuracy);
    expect(r.test.top1).to.equal(local.test!.top1);
    await q.close();
    b.child.kill('SIGINT');
    await b.done;
  });

  it('vitas worker: a retrain handed back while another worker waits goes to that worker, and the first exits 130 having handed it back', async () => {
    const url = redis!.url(8);
    await redis!.flush(8);
    const job = longRetrain(join(dir, 'handed-over'), 3);
    const a = await worker(url, 'wA');
    const pending = runJobs(url, [job]);
    const q = openQueue(url);
    await until(async () => (await q.getActiveCount()) === 1, 30_000, 'the retrain to start');
    const b = await worker(url, 'wB');
    await until(async () => (await q.getWorkersCount()) === 2, 30_000, 'the second worker');
    // wB takes the job the moment it is back; wA must see that as handed back, not wait for it
    const stopped = await handBack(a);
    expect(stopped.code, stopped.err).to.equal(130);
    expect(stopped.err).to.include('handed 1 job(s) back to the queue');
    await pending;
    expect((await q.getJob(jobId(job)))!.processedBy).to.equal('wB');
    await q.close();
    b.child.kill('SIGINT');
    await b.done;
  });

  it('runJobs: a stop signal ends the wait with the jobs left on the queue; the same call again gets each result, also through onResult as it finishes', async () => {
    const url = redis!.url(6);
    await redis!.flush(6);
    const data: DataConfig = { dataset: 'synthetic', validation: 16, limit: 64, size: 8, channels: 1, classes: 4 };
    const job = (seed: number): StandaloneJob => ({ kind: 'standalone', spec: tinySpec(), data, recipe: { epochs: 1, batch: 16, seed }, test: false });
    const jobs = [job(1), job(2), job(1)]; // the third is the first again: one job, two indices
    const signal = { stop: false };
    const waiting = runJobs(url, jobs, { signal });
    const q = openQueue(url);
    await until(async () => (await q.getWaitingCount()) === 2, 30_000, 'both jobs on the queue');
    signal.stop = true;
    const stopped = await waiting;
    expect(stopped.stopped).to.equal(true);
    expect(await (await q.getJob(jobId(jobs[0]!)))!.getState()).to.equal('waiting');
    const w = await worker(url, 'w');
    const seen: [number, unknown][] = [];
    const { results, report } = await runJobs(url, jobs, { onResult: (i, r) => void seen.push([i, r]) });
    expect(report).to.include({ jobs: 2, reattached: 2, added: 0 });
    expect(seen.map(([i]) => i).sort()).to.deep.equal([0, 1, 2]);
    for (const [i, r] of seen) expect(r).to.deep.equal(results[i]);
    expect(results[2]).to.deep.equal(results[0]);
    await q.close();
    w.child.kill('SIGINT');
    await w.done;
  });

  describe('with one worker', () => {
    let url: string;
    let w: ReturnType<typeof vitas>;
    let ckptDir: string;
    const data: DataConfig = { dataset: 'synthetic', validation: 16, limit: 64, size: 8, channels: 1, classes: 4 };

    before(async () => {
      url = redis!.url(5);
      await redis!.flush(5);
      w = await worker(url, 'w');
      ckptDir = join(dir, 'supernet');
      const trained = await trainSupernet({ space: tinySpace, data: loadData(data), recipe: { epochs: 1, batch: 16, sampling: 'uniform' }, out: ckptDir });
      trained.supernet.dispose();
    });

    after(async () => {
      w.child.kill('SIGINT');
      await w.done;
    });

    it('refuses a checkpoint whose sha256 is not the job\'s, and scores one that matches exactly as in process', async () => {
      const checkpoint = await fileRef(join(ckptDir, 'supernet.ckpt'));
      const specs = [tinySpec(), tinySpec({ embed: 16, patch: 4 })];
      const ref: EvaluatorRef = { name: 'supernet', space: tinySpace, checkpoint, data, slicing: 'left' };
      const net = loadSupernet(tinySpace, checkpoint.path);
      const inProcess = await new SupernetEvaluator(net, loadData(data).val).evaluate(specs);
      net.dispose();
      expect(await new QueueEvaluator(url, ref).evaluate(specs)).to.deep.equal(inProcess);
      const other = { ...ref, checkpoint: { ...checkpoint, sha256: '0'.repeat(64) } };
      const err = await new QueueEvaluator(url, other, { attempts: 1 }).evaluate(specs).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(VitasError);
      expect((err as Error).message).to.match(new RegExp(`failed after 1 attempt\\(s\\): ${checkpoint.path}: checkpoint sha256 ${checkpoint.sha256.slice(0, 12)}… on this worker is not the job's 000000000000…; refusing to run on a different file`));
    });

    it('a job whose evaluation always throws ends failed after its attempts; the controller and vitas queue status report it', async () => {
      const checkpoint = await fileRef(join(ckptDir, 'supernet.ckpt'));
      // the dataset is missing on the worker: every attempt throws
      const ref: EvaluatorRef = { name: 'supernet', space: tinySpace, checkpoint, data: { dataset: 'fashion-mnist', dir: join(dir, 'no-such-data'), validation: 10 }, slicing: 'left' };
      const err = await new QueueEvaluator(url, ref, { attempts: 2, backoffMs: 100 }).evaluate([tinySpec()]).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(VitasError);
      expect((err as Error).message).to.match(/^queue: job score-[0-9a-f]{40} \(score 1 spec with supernet\) failed after 2 attempt\(s\): data: dataset "fashion-mnist" not found in .*no-such-data/);
      // and one that succeeds, for the throughput table
      expect(await new QueueEvaluator(url, { name: 'cost', metric: 'macs', convention: 'macs' }).evaluate([tinySpec()])).to.deep.equal([costOf(tinySpec()).macs]);
      const r = await vitas(['queue', 'status', '--queue', url, '--json']).done;
      expect(r.code, r.err).to.equal(0);
      const s = JSON.parse(r.out) as { counts: Record<string, number>; workers: string[]; failures: { reason: string; attempts: number }[]; throughput: { worker: string; jobs: number }[] };
      const mine = s.failures.filter((f) => /not found in .*no-such-data/.test(f.reason));
      expect(mine).to.have.length(1);
      expect(mine[0]!.attempts).to.equal(2);
      expect(s.counts.failed).to.equal(s.failures.length); // the earlier test's refused jobs are listed too
      expect(s.workers).to.deep.equal(['w']);
      expect(s.throughput.find((t) => t.worker === 'w')!.jobs).to.be.above(0);
      const md = await vitas(['queue', 'status', '--queue', url]).done;
      expect(md.out).to.match(new RegExp(`\\| +0 \\| +0 \\| +0 \\| +\\d+ \\| +${s.counts.failed} \\|`));
      expect(md.out).to.include('no-such-data');
    });

    it('vitas retrain of two seeds through the queue writes each run, the same as retrained in process', async () => {
      const spec = { version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 24, mlp: 32 }] };
      const specFile = join(dir, 'small.json');
      writeFileSync(specFile, JSON.stringify(spec));
      const out = join(dir, 'retrained');
      const data = fixture('fashion-mnist-mini');
      const r = await vitas(['retrain', specFile, '--data', data, '--validation', '100', '--epochs', '1', '--batch', '50', '--seeds', '0,1', '--queue', url, '--out', out]).done;
      expect(r.code, r.err).to.equal(0);
      for (const seed of [0, 1]) expect(existsSync(join(out, `small-seed${seed}`, 'model.json'))).to.equal(true);
      const viaQueue = JSON.parse(readFileSync(join(out, 'small-seed1', 'results.json'), 'utf8')) as { valAccuracy: number; testAccuracy: number };
      const local = await runRetrain({ spec: spec as never, data, validation: 100, epochs: 1, recipe: { batch: 50, seed: 1 }, out: join(dir, 'retrained-local'), version: VERSION });
      local.model.dispose();
      expect(viaQueue.valAccuracy).to.equal(local.bestValAccuracy);
      expect(viaQueue.testAccuracy).to.equal(local.test!.top1);
      expect(readFileSync(join(out, 'summary.md'), 'utf8')).to.include('small');
      // the same list again: nothing left to do, so nothing goes on the queue
      const again = await vitas(['retrain', specFile, '--data', data, '--validation', '100', '--epochs', '1', '--batch', '50', '--seeds', '0,1', '--queue', url, '--out', out, '--resume']).done;
      expect(again.code, again.err).to.equal(0);
      expect(again.err).to.include('retrain: 2 of 2 run(s) finished in an earlier call');
      expect(again.err).to.not.include('job(s):');
      expect(JSON.parse(readFileSync(join(out, 'small-seed1', 'results.json'), 'utf8'))).to.deep.equal(viaQueue);
    });

    it('an ablation through the queue gives the in-process stand-alone, inherited and searched results', async () => {
      const base = { name: 'tiny', space: spaceFile, data, budget: { max: '60K', min: '1K' }, supernet: { epochs: 1, batch: 16, sampling: 'uniform' }, search: { population: 4, generations: 2, parents: 2, mutations: 2, crossovers: 2 } };
      const def = { name: 'tiny-queue', base, factors: { privateTokens: [true] }, metrics: { kendall: { subnets: 3, epochs: 1 }, search: true } };
      const local = await runAblation(def as never, { out: join(dir, 'ablation-local') });
      const queued = await runAblation(def as never, { out: join(dir, 'ablation-queue'), queue: url });
      const strip = (r: typeof local): unknown => r.arms.map(({ seconds: _s, ...a }) => a);
      expect(strip(queued)).to.deep.equal(strip(local));
    });
  });
});
