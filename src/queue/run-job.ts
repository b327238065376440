/**
 * What a worker does with a job: build the evaluator or recipe the job names and call the library
 * (evaluators, retrain, runRetrain), never a copy of it. Evaluators and datasets are kept between
 * jobs, since a worker process takes many jobs of the same search.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadData, type DataConfig } from '../data/load.js';
import type { Splits } from '../data/dataset.js';
import { CostEvaluator } from '../evaluators/cost.js';
import type { Evaluator } from '../evaluators/evaluator.js';
import { LatencyEvaluator } from '../evaluators/latency.js';
import { proxyByName } from '../evaluators/proxies.js';
import { SupernetEvaluator } from '../evaluators/supernet.js';
import { writeAtomic } from '../io.js';
import { calibrationImages } from '../supernet/batchnorm.js';
import { loadSupernet } from '../supernet/trainer.js';
import { evaluateModel } from '../retrain/evaluate.js';
import { retrain } from '../retrain/retrain.js';
import { runRetrain, trainingThroughput, type RetrainRunOptions } from '../retrain/run.js';
import { VERSION } from '../version.js';
import { checkFileRef, evaluatorFingerprint, jobId, stableJson, type EvaluatorRef, type JobData, type RetrainJob, type RetrainJobResult, type ScoreJob, type ScoreResult, type StandaloneJob, type StandaloneResult } from './jobs.js';

// a supernet evaluator holds a whole supernet: keep the two most recent, dispose older ones
const KEEP = 2;
const evaluators = new Map<string, Evaluator>();
const datasets = new Map<string, Splits>();

function buildEvaluator(ref: EvaluatorRef): Evaluator {
  switch (ref.name) {
    case 'proxy':
      return proxyByName(ref.proxy ?? 'snip', 'queue job: evaluator.proxy').create(ref.space, { seed: ref.seed, batch: ref.batch });
    case 'supernet':
      return new SupernetEvaluator(loadSupernet(ref.space, ref.checkpoint.path), splits(ref.data).val, { slicing: ref.slicing, calibration: calibrationImages(splits(ref.data).train), ...(ref.limit ? { limit: ref.limit } : {}) });
    case 'latency':
      return new LatencyEvaluator({ batch: ref.batch, runs: ref.runs });
    case 'cost':
      return new CostEvaluator(ref.metric, ref.convention);
  }
}

function evaluatorFor(ref: EvaluatorRef): Evaluator {
  const key = evaluatorFingerprint(ref);
  let e = evaluators.get(key);
  if (e) {
    evaluators.delete(key); // re-inserted below: most recent last
  } else {
    e = buildEvaluator(ref);
    while (evaluators.size >= KEEP) {
      const [oldest, old] = evaluators.entries().next().value as [string, Evaluator];
      old.dispose?.();
      evaluators.delete(oldest);
    }
  }
  evaluators.set(key, e);
  return e;
}

function splits(cfg: DataConfig, withTest = false): Splits {
  const key = `${stableJson(cfg)}:${withTest}`;
  let s = datasets.get(key);
  if (!s) {
    s = loadData(cfg, { withTest });
    datasets.clear(); // one dataset at a time: they are large
    datasets.set(key, s);
  }
  return s;
}

async function score(job: ScoreJob): Promise<ScoreResult> {
  if (job.evaluator.name === 'supernet') await checkFileRef(job.evaluator.checkpoint);
  const scores = await evaluatorFor(job.evaluator).evaluate(job.specs);
  return { scores: scores.map((s) => (Number.isFinite(s) ? s : String(s))) };
}

async function standalone(job: StandaloneJob): Promise<StandaloneResult> {
  const data = splits(job.data, job.test);
  const r = await retrain({ spec: job.spec, train: data.train, val: data.val, recipe: job.recipe });
  const out: StandaloneResult = { bestEpoch: r.bestEpoch, bestValAccuracy: r.bestValAccuracy };
  if (job.test && data.test) {
    const t = evaluateModel(r.model, data.test, 'test');
    out.test = { top1: t.top1, top5: t.top5 };
  }
  r.model.dispose();
  return out;
}

/** A retrain's settings without its folder: a run folder moved or cloned with its list is still this job's. */
function settingsKey(job: RetrainJob): string {
  return jobId({ ...job, out: '' });
}

/**
 * The id in the run folder's job.json when the folder holds this job's run (the same settings,
 * wherever the folder is now), else undefined.
 */
export function ownRunId(job: RetrainJob): string | undefined {
  const marker = join(job.out, 'job.json');
  if (!existsSync(marker)) return undefined;
  const m = JSON.parse(readFileSync(marker, 'utf8')) as { id?: string; job?: RetrainJob };
  return m.id && m.job?.kind === 'retrain' && settingsKey(m.job) === settingsKey(job) ? m.id : undefined;
}

/** The result of this job's run when it has finished (its result.json is this run's), else undefined. */
export function savedRetrainResult(job: RetrainJob, id = ownRunId(job)): RetrainJobResult | undefined {
  const done = join(job.out, 'result.json');
  if (!id || !existsSync(done)) return undefined;
  const saved = JSON.parse(readFileSync(done, 'utf8')) as { id?: string; result?: RetrainJobResult };
  // the folder where it is now, not where it was trained
  return saved.id === id && saved.result ? { ...saved.result, out: job.out } : undefined;
}

/**
 * A retrain that a killed worker left behind resumes from its last checkpoint when it is this job's;
 * one that finished (its result.json is this job's) is not run again, so re-running a list continues it.
 */
async function retrainJob(job: RetrainJob, events?: RetrainRunOptions['events'], signal?: { stop: boolean }): Promise<RetrainJobResult> {
  if (job.initFromSupernet) await checkFileRef(job.initFromSupernet.checkpoint);
  const marker = join(job.out, 'job.json');
  const done = join(job.out, 'result.json');
  const own = ownRunId(job);
  const saved = savedRetrainResult(job, own);
  if (saved) return saved;
  const resume = own !== undefined && existsSync(join(job.out, 'retrain.ckpt'));
  // a run of this job keeps the id it was started under (result.json names the same one)
  const id = own ?? jobId(job);
  if (!own) writeAtomic(marker, JSON.stringify({ id, job }, null, 2) + '\n');
  const r = await runRetrain({
    spec: job.spec,
    data: job.data,
    validation: job.validation,
    ...(job.limit ? { limit: job.limit } : {}),
    recipe: job.recipe,
    out: job.out,
    resume,
    // not this job's run: the controller has checked that it may be replaced (retrainMany)
    force: !resume,
    version: VERSION,
    ...(job.initFromSupernet ? { initFromSupernet: job.initFromSupernet.run } : {}),
    ...(events ? { events } : {}),
    ...(signal ? { signal } : {}),
  });
  r.model.dispose();
  if (r.stopped) return { out: job.out, bestEpoch: r.bestEpoch, bestValAccuracy: r.bestValAccuracy, stopped: true };
  const ips = trainingThroughput(r.history);
  const result: RetrainJobResult = { out: job.out, bestEpoch: r.bestEpoch, bestValAccuracy: r.bestValAccuracy, ...(ips ? { trainImagesPerSecond: ips } : {}), ...(r.test ? { test: { top1: r.test.top1, top5: r.test.top5 } } : {}) };
  writeAtomic(done, JSON.stringify({ id, result }, null, 2) + '\n');
  return result;
}

/**
 * Run one job in this process; what a queue worker's sandboxed processor calls. `signal`: set
 * `.stop` to have a retrain save its checkpoint after its current step and return it stopped
 * (Ctrl-C in process; a worker's hand-back in its job process).
 */
export async function runJob(job: JobData, events?: RetrainRunOptions['events'], signal?: { stop: boolean }): Promise<ScoreResult | StandaloneResult | RetrainJobResult> {
  switch (job.kind) {
    case 'score':
      return score(job);
    case 'standalone':
      return standalone(job);
    case 'retrain':
      return retrainJob(job, events, signal);
  }
}

/** Free what the cached evaluators hold (tensors); for a worker that is shutting down or a test. */
export function disposeJobCaches(): void {
  for (const e of evaluators.values()) e.dispose?.();
  evaluators.clear();
  datasets.clear();
}
