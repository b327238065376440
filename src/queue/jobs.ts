/**
 * Jobs on the queue: each names everything a worker needs (specs, evaluator or recipe, seed,
 * dataset, checkpoint by path + sha256), and its id is a hash of exactly that, so BullMQ's
 * at-least-once delivery and a controller's `--resume` land on the same job, never a second one.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataConfig } from '../data/load.js';
import type { ProxyName } from '../evaluators/proxies.js';
import type { Convention } from '../space/cost.js';
import { VitasError } from '../errors.js';
import type { SearchSpace } from '../space/space.js';
import { canonicalSpec, specKey, type ArchSpec } from '../space/spec.js';
import type { Slicing } from '../train/supernet-recipe.js';
import type { RetrainRecipe } from '../retrain/retrain.js';

/** A file every machine reads at the same path; the hash proves it is the same file. */
export interface FileRef {
  path: string;
  sha256: string;
}

/** A serialisable description of an Evaluator: a worker builds the same one from it. */
export type EvaluatorRef =
  // proxy: one of PROXIES, absent for snip (so snip's jobs keep the ids they had before there was a choice)
  | { name: 'proxy'; space: SearchSpace; seed: number; batch: number; proxy?: ProxyName }
  | { name: 'supernet'; space: SearchSpace; checkpoint: FileRef; data: DataConfig; slicing: Slicing; limit?: number }
  | { name: 'latency'; batch: number; runs: number }
  | { name: 'cost'; metric: 'macs' | 'params'; convention: Convention };

/** Score a batch of specs with an evaluator. */
export interface ScoreJob {
  kind: 'score';
  evaluator: EvaluatorRef;
  specs: ArchSpec[];
}

/** Train a spec stand-alone (the ranking check of an ablation; optionally the test split after). */
export interface StandaloneJob {
  kind: 'standalone';
  spec: ArchSpec;
  data: DataConfig;
  recipe: Partial<RetrainRecipe>;
  test: boolean;
}

/** `vitas retrain` of one spec and seed into `out` (on storage the controller can read). */
export interface RetrainJob {
  kind: 'retrain';
  spec: ArchSpec;
  /** a dataset name or an absolute folder, as `--data` */
  data: string;
  validation: number;
  /** read only the first N training images (`--limit`) */
  limit?: number;
  recipe: Partial<RetrainRecipe>;
  out: string;
  /** a supernet run folder and the hash of its supernet.ckpt */
  initFromSupernet?: { run: string; checkpoint: FileRef };
}

export type JobData = ScoreJob | StandaloneJob | RetrainJob;

export interface ScoreResult {
  /** non-finite scores travel as strings: JSON has no NaN */
  scores: (number | string)[];
}

export interface StandaloneResult {
  bestEpoch: number;
  bestValAccuracy: number;
  test?: { top1: number; top5: number };
}

export interface RetrainJobResult extends StandaloneResult {
  out: string;
  /** training images per second of the run's training steps */
  trainImagesPerSecond?: number;
  /** stopped (Ctrl-C) before its last epoch: its checkpoint is saved, no result yet */
  stopped?: boolean;
}

/** JSON with object keys sorted, so equal values hash equal whatever order they were built in. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** The evaluator's identity: two refs with one fingerprint score every spec alike. */
export function evaluatorFingerprint(ref: EvaluatorRef): string {
  return sha(stableJson(ref)).slice(0, 32);
}

/** Score jobs are keyed by (fingerprint, canonical specs); training jobs by their whole description. */
export function jobId(job: JobData): string {
  if (job.kind === 'score') return `score-${sha(`${evaluatorFingerprint(job.evaluator)}\n${job.specs.map(specKey).join('\n')}`).slice(0, 40)}`;
  return `${job.kind}-${sha(stableJson({ ...job, spec: canonicalSpec(job.spec) })).slice(0, 40)}`;
}

/** One line about a job, for progress and error messages. */
export function describeJob(job: JobData): string {
  if (job.kind === 'score') return `score ${job.specs.length} spec${job.specs.length === 1 ? '' : 's'} with ${job.evaluator.name}`;
  if (job.kind === 'standalone') return `stand-alone training, ${job.recipe.epochs ?? '?'} epoch(s), seed ${job.recipe.seed ?? 0}`;
  return `retrain into ${job.out}, seed ${job.recipe.seed ?? 0}`;
}

/** A data config whose folder is absolute, so a worker started elsewhere reads the same files. */
export function absoluteData(cfg: DataConfig): DataConfig {
  return cfg.dir ? { ...cfg, dir: resolve(cfg.dir) } : cfg;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (b) => h.update(b))
      .on('end', () => res(h.digest('hex')))
      .on('error', (e: NodeJS.ErrnoException) => rej(new VitasError(`${path}: cannot read (${e.code ?? e.message})`)));
  });
}

/** The controller's side: an absolute path and the hash of what is there now. */
export async function fileRef(path: string): Promise<FileRef> {
  const abs = resolve(path);
  return { path: abs, sha256: await sha256File(abs) };
}

// a worker hashes a checkpoint once per (size, mtime), not once per job
const verified = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

/** The worker's side: refuse a file whose hash is not the job's (another machine's copy differs). */
export async function checkFileRef(ref: FileRef, what = 'checkpoint'): Promise<void> {
  let st;
  try {
    st = statSync(ref.path);
  } catch {
    throw new VitasError(`${ref.path}: no ${what} at this path on this worker; every machine must see it at the same path`);
  }
  const seen = verified.get(ref.path);
  const hash = seen && seen.size === st.size && seen.mtimeMs === st.mtimeMs ? seen.sha256 : await sha256File(ref.path);
  verified.set(ref.path, { size: st.size, mtimeMs: st.mtimeMs, sha256: hash });
  if (hash !== ref.sha256) throw new VitasError(`${ref.path}: ${what} sha256 ${hash.slice(0, 12)}… on this worker is not the job's ${ref.sha256.slice(0, 12)}…; refusing to run on a different file`);
}
