/**
 * Supernet training (DESIGN §5): one sampled subnet per step (uniform, or with the tuned identity
 * probability), optional sandwich rule, masked AdamW, warm-up + cosine, label smoothing.
 * A checkpoint after every epoch (and on stop), `resume` continues exactly: data order, subnet
 * samples and augmentation come from RNGs keyed by (seed, epoch), so skipping is replaying.
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { epochBatches, batchesPerEpoch, orderedBatches, type Augment } from '../data/batches.js';
import type { Dataset, Splits } from '../data/dataset.js';
import { costOf } from '../space/cost.js';
import { VitasError } from '../space/errors.js';
import { sampleSpec } from '../space/genome.js';
import { reachableRange } from '../space/range.js';
import { Rng } from '../space/rng.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { MaskedAdamW } from './adamw.js';
import { calibrationImages, recalibrate } from './batchnorm.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointTensor } from './checkpoint.js';
import { searchIdentityProbability, type BudgetWindow } from './identity-search.js';
import { DataParallelStep } from './data-parallel.js';
import { Supernet, type Slicing } from './supernet.js';
import { checkMemory, evaluationBatch } from './memory.js';

/** What every training loop here shares: AdamW, warm-up + cosine, label smoothing, augmentation. */
export interface TrainingRecipe {
  epochs: number;
  batch: number;
  lr: number;
  minLr: number;
  weightDecay: number;
  warmupEpochs: number;
  labelSmoothing: number;
  augment: Augment;
  seed: number;
}

export interface SupernetRecipe extends TrainingRecipe {
  slicing: Slicing;
  /** largest + smallest + a random subnet every step */
  sandwich: boolean;
  /** with `sandwich`: in-place distillation — the largest subnet learns from the labels, the others from its soft predictions */
  distill: boolean;
  /** `uniform`: every block choice equally likely; `identity-search`: p_id tuned to the budget window */
  sampling: 'uniform' | 'identity-search';
  /** ablations only: ViTAS's private class tokens / attention maps switched off */
  privateTokens: boolean;
  privateAttention: boolean;
  /** a warm restart written by a resumed stage: from global step `step` a new cosine from `lr` down to `minLr` */
  restart?: LrRestart;
}

export interface LrRestart {
  step: number;
  lr: number;
}

/** One invocation of a run (a fresh start or a `--resume`), kept in the checkpoint so a staged run's history is on record. */
export interface StageRecord {
  /** 1-based epoch and 0-based step the invocation started at */
  fromEpoch: number;
  fromStep: number;
  /** the run's last epoch as this invocation set it (`--epochs`) */
  toEpoch: number;
  sandwich: boolean;
  /** `--restart-lr`: the warm restart this invocation began with */
  restartLr?: number;
  threads: number;
}

/** DESIGN §5: AdamW lr 1e-3, weight decay 0.05, warm-up then cosine, label smoothing 0.1. */
export const DEFAULT_TRAINING: TrainingRecipe = {
  epochs: 10,
  batch: 64,
  lr: 1e-3,
  minLr: 1e-5,
  weightDecay: 0.05,
  warmupEpochs: 1,
  labelSmoothing: 0.1,
  augment: { crop: 2, flip: true },
  seed: 0,
};

export const DEFAULT_RECIPE: SupernetRecipe = {
  ...DEFAULT_TRAINING,
  slicing: 'left',
  sandwich: false,
  distill: false,
  sampling: 'identity-search',
  privateTokens: true,
  privateAttention: true,
};

export interface StepEvent {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  imagesPerSecond: number;
  lr: number;
}

export interface EpochRecord {
  epoch: number;
  meanLoss: number;
  seconds: number;
  images: number;
  /** validation top-1 of the watched subnets after this epoch (inherited weights), by name */
  val?: Record<string, number>;
}

/** Subnets whose inherited-weight accuracy is measured after every epoch (the learning curve). */
export interface EpochValidation {
  data: Dataset;
  subnets: { name: string; spec: ArchSpec }[];
  /** the first N validation images (all when absent) */
  images?: number;
}

export interface TrainEvents {
  /** `recipe` and `stages`: what a supernet run actually trains with, after a resume merged the checkpoint's recipe */
  onStart?(e: { epochs: number; stepsPerEpoch: number; startEpoch: number; startStep: number; pId: number | undefined; recipe?: SupernetRecipe; stages?: readonly StageRecord[] }): void;
  onStep?(e: StepEvent): void;
  onEpoch?(e: EpochRecord, history?: readonly EpochRecord[]): void;
  onLog?(message: string): void;
}

export interface TrainSupernetOptions {
  space: SearchSpace;
  data: Splits;
  recipe?: Partial<SupernetRecipe>;
  budget?: BudgetWindow;
  /** run folder: checkpoint `supernet.ckpt` lives here */
  out?: string;
  resume?: boolean;
  events?: TrainEvents;
  /** set `.stop = true` (e.g. on SIGINT) to save a checkpoint after the current step and return */
  signal?: { stop: boolean };
  /** threads per step (data-parallel over worker threads, see DataParallelStep); 1 = this thread only */
  threads?: number;
  /** measure these subnets after every epoch */
  validate?: EpochValidation;
  /**
   * with `resume`: a new training stage from the checkpoint on (`recipe.epochs` may change too):
   * switch the sandwich rule on or off, and/or restart the cosine at `lr` (SGDR-style warm restart)
   */
  resumeWith?: { sandwich?: boolean; lr?: number };
}

export interface TrainResult {
  supernet: Supernet;
  history: EpochRecord[];
  /** per-step losses of this process (for tests and plots) */
  losses: number[];
  pId: number | undefined;
  stopped: boolean;
  checkpoint?: string;
}

interface CheckpointMeta {
  space: string;
  recipe: SupernetRecipe;
  /** next epoch and step to run */
  epoch: number;
  step: number;
  pId: number | null;
  history: EpochRecord[];
  epochLossSum: number;
  /** threads of the process that wrote it (a different count changes float rounding only) */
  threads?: number;
  /** every invocation so far (absent in checkpoints written before stages were recorded) */
  stages?: StageRecord[];
}

/** Linear warm-up to `lr`, then cosine down to `minLr`, per step; after a restart, a new cosine from the restart's lr. */
export function learningRate(r: Pick<SupernetRecipe, 'lr' | 'minLr' | 'warmupEpochs' | 'epochs' | 'restart'>, globalStep: number, stepsPerEpoch: number): number {
  const warm = r.warmupEpochs * stepsPerEpoch;
  const total = r.epochs * stepsPerEpoch;
  // cosine from `peak` at step `start` down to minLr at the last step
  const cosine = (peak: number, start: number): number => {
    const progress = Math.min(1, (globalStep - start) / Math.max(1, total - start));
    return r.minLr + 0.5 * (peak - r.minLr) * (1 + Math.cos(Math.PI * progress));
  };
  if (r.restart && globalStep >= r.restart.step) return cosine(r.restart.lr, r.restart.step);
  if (globalStep < warm) return (r.lr * (globalStep + 1)) / warm;
  return cosine(r.lr, warm);
}

/** The subnets trained at one step. */
function stepSpecs(space: SearchSpace, rng: Rng, recipe: SupernetRecipe, pId: number | undefined, ends: { min: ArchSpec; max: ArchSpec }): ArchSpec[] {
  const random = sampleSpec(space, rng, pId === undefined ? {} : { pId });
  return recipe.sandwich ? [ends.max, ends.min, random] : [random];
}

/** How a subnet is scored with inherited weights; `calibration`: training images its BatchNorm statistics are recalibrated on first. */
export interface SubnetEvalOptions {
  slicing?: Slicing;
  batch?: number;
  /** the first `limit` images (all by default) */
  limit?: number;
  calibration?: Dataset;
}

/** Top-1 accuracy of subnet `spec` with inherited weights (after recalibrating its BatchNorm layers on `calibration`, when given). */
export function evaluateSubnet(net: Supernet, spec: ArchSpec, ds: Dataset, opts: SubnetEvalOptions = {}): number {
  if (opts.calibration) recalibrate(net, spec, opts.calibration, { slicing: opts.slicing ?? 'left' });
  let correct = 0;
  let seen = 0;
  const [h, w, c] = ds.shape;
  const weightBytes = 4 * [...net.params.values()].reduce((a, p) => a + p.v.size, 0);
  // exactly `limit` images, whatever the batch: the score must not depend on how memory cut the batches
  for (const b of orderedBatches(ds, opts.batch ?? evaluationBatch(spec, weightBytes), opts.limit)) {
    correct += tf.tidy(() => {
      const logits = net.forward(tf.tensor4d(b.x, [b.size, h, w, c]), spec, opts.slicing ?? 'left');
      return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(b.y, 'int32')), 'int32')).dataSync()[0]!;
    });
    seen += b.size;
  }
  return correct / seen;
}

function stateTensors(net: Supernet, opt: MaskedAdamW): Map<string, CheckpointTensor> {
  const m = new Map<string, CheckpointTensor>();
  for (const [k, p] of net.params) m.set(`param/${k}`, p.v);
  for (const [k, p] of net.running) m.set(`running/${k}`, p.v);
  for (const [k, s] of opt.state) {
    m.set(`m/${k}`, { shape: s.shape, values: s.m });
    m.set(`v/${k}`, { shape: s.shape, values: s.v });
    m.set(`t/${k}`, { shape: s.shape, values: s.t });
  }
  return m;
}

function restore(net: Supernet, opt: MaskedAdamW, tensors: Map<string, { shape: number[]; values: Float32Array }>, path: string): void {
  for (const [name, t] of tensors) {
    const [kind, ...rest] = name.split('/');
    const key = rest.join('/');
    const p = (kind === 'running' ? net.running : net.params).get(key);
    if (!p || p.v.shape.join() !== t.shape.join()) throw new VitasError(`${path}: tensor ${name} [${t.shape}] does not fit this supernet (another space?)`);
    if (kind === 'param' || kind === 'running') tf.tidy(() => p.v.assign(tf.tensor(t.values, t.shape)));
    else if (kind === 'm' || kind === 'v' || kind === 't') opt.restore(key, t.shape, kind, t.values);
    else throw new VitasError(`${path}: unknown tensor ${name}`);
  }
}

export async function trainSupernet(o: TrainSupernetOptions): Promise<TrainResult> {
  const recipe: SupernetRecipe = { ...DEFAULT_RECIPE, ...o.recipe, augment: { ...DEFAULT_RECIPE.augment, ...o.recipe?.augment } };
  const { space, data } = o;
  const log = (m: string): void => o.events?.onLog?.(m);
  const ckptPath = o.out ? join(o.out, 'supernet.ckpt') : undefined;
  if (space.input.join() !== data.train.shape.join()) throw new VitasError(`data: images are ${data.train.shape.join('×')} but space "${space.name}" expects ${space.input.join('×')}`);
  if (space.classes !== data.train.classes) throw new VitasError(`data: ${data.train.classes} classes but space "${space.name}" has ${space.classes}`);
  if (recipe.distill && !recipe.sandwich) throw new VitasError('supernet: distill (in-place distillation) needs sandwich: the largest subnet of each step is the teacher');
  const range = reachableRange(space, o.budget?.convention ?? 'macs');
  const supernetOptions = { privateTokens: recipe.privateTokens, privateAttention: recipe.privateAttention };
  await checkMemory({ spec: range.maxSpec, supernet: { space, options: supernetOptions }, sides: recipe.slicing === 'two-sided' ? 2 : 1 }, recipe.batch, 'supernet.batch');

  let pId: number | undefined;
  if (recipe.sampling === 'identity-search' && space.identity === 'anywhere') {
    if (!o.budget) throw new VitasError('supernet: sampling "identity-search" needs a budget window (--budget)');
    const r = searchIdentityProbability(space, o.budget, { seed: recipe.seed });
    pId = r.pId;
    log(`identity probability p_id = ${r.pId} (mean cost of 1000 random subnets ${(r.meanMacs / 1e6).toFixed(2)}M, ${r.steps} steps)`);
  }

  const net = new Supernet(space, { seed: recipe.seed, privateTokens: recipe.privateTokens, privateAttention: recipe.privateAttention });
  const opt = new MaskedAdamW({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: recipe.weightDecay });
  const threads = Math.max(1, o.threads ?? 1);
  let startEpoch = 0;
  let startStep = 0;
  let history: EpochRecord[] = [];
  let epochLossSum = 0;
  let stages: StageRecord[] = [];
  if (o.resume) {
    if (!ckptPath) throw new VitasError('--resume needs --out (the run folder holding supernet.ckpt)');
    const ck = loadCheckpoint<CheckpointMeta>(ckptPath);
    if (ck.meta.space !== space.name) throw new VitasError(`${ckptPath}: checkpoint is of space "${ck.meta.space}", not "${space.name}"`);
    restore(net, opt, ck.tensors, ckptPath);
    Object.assign(recipe, { ...ck.meta.recipe, epochs: recipe.epochs });
    const sandwich = o.resumeWith?.sandwich;
    if (sandwich !== undefined && sandwich !== recipe.sandwich) {
      recipe.sandwich = sandwich;
      log(`sandwich rule ${sandwich ? 'on' : 'off'} from epoch ${ck.meta.epoch + 1}, step ${ck.meta.step} (a new stage of this run)`);
    }
    const restartLr = o.resumeWith?.lr;
    if (restartLr !== undefined) {
      if (!(restartLr > recipe.minLr)) throw new VitasError(`--restart-lr: ${restartLr} must be above the recipe's minLr ${recipe.minLr}`);
      const perEpoch = batchesPerEpoch(data.train, recipe.batch); // the checkpoint's batch size
      const step = ck.meta.epoch * perEpoch + ck.meta.step;
      if (step >= recipe.epochs * perEpoch) throw new VitasError(`--restart-lr: the checkpoint is at the end of epoch ${ck.meta.epoch}; raise --epochs to train on`);
      recipe.restart = { step, lr: restartLr };
      log(`learning rate restarts at ${restartLr} from epoch ${ck.meta.epoch + 1}, step ${ck.meta.step}, cosine down to ${recipe.minLr} at the end of epoch ${recipe.epochs} (a new stage of this run)`);
    }
    ({ epoch: startEpoch, step: startStep, history, epochLossSum } = ck.meta);
    pId = ck.meta.pId ?? undefined;
    stages = ck.meta.stages ?? [];
    log(`resumed from ${ckptPath} at epoch ${startEpoch + 1}, step ${startStep}`);
    if ((ck.meta.threads ?? 1) !== threads) log(`note: the checkpoint was written with ${ck.meta.threads ?? 1} thread(s), this run uses ${threads}: losses match up to float rounding, not bit for bit`);
  }
  // a resume with nothing left to train is not a stage
  if (startEpoch < recipe.epochs) stages.push({ fromEpoch: startEpoch + 1, fromStep: startStep, toEpoch: recipe.epochs, sandwich: recipe.sandwich, ...(o.resume && o.resumeWith?.lr !== undefined ? { restartLr: o.resumeWith.lr } : {}), threads });
  const stepper = new DataParallelStep(net, threads);
  const save = (epoch: number, step: number): void => {
    if (!ckptPath) return;
    const meta: CheckpointMeta = { space: space.name, recipe, epoch, step, pId: pId ?? null, history, epochLossSum, threads, stages };
    saveCheckpoint(ckptPath, meta, stateTensors(net, opt));
  };

  const stepsPerEpoch = batchesPerEpoch(data.train, recipe.batch);
  const ends = { min: range.minSpec, max: range.maxSpec };
  const calibration = calibrationImages(data.train);
  const losses: number[] = [];
  o.events?.onStart?.({ epochs: recipe.epochs, stepsPerEpoch, startEpoch, startStep, pId, recipe, stages });
  for (let epoch = startEpoch; epoch < recipe.epochs; epoch++) {
    const dataRng = new Rng(`data:${recipe.seed}:${epoch}`);
    const netRng = new Rng(`subnets:${recipe.seed}:${epoch}`);
    const t0 = performance.now();
    let images = 0;
    let step = 0;
    if (epoch !== startEpoch || startStep === 0) epochLossSum = 0;
    for (const batch of epochBatches(data.train, recipe.batch, dataRng, recipe.augment)) {
      const specs = stepSpecs(space, netRng, recipe, pId, ends);
      if (epoch === startEpoch && step < startStep) {
        step++;
        continue; // replaying up to where the checkpoint stopped
      }
      const lr = learningRate(recipe, epoch * stepsPerEpoch + step, stepsPerEpoch);
      const ts = performance.now();
      const loss = await stepper.step(opt, batch, specs, lr, recipe);
      if (!Number.isFinite(loss)) {
        await stepper.dispose();
        opt.dispose();
        net.dispose();
        const kept = history.length ? `the last good checkpoint (after epoch ${history.length}) is kept at ${ckptPath}` : 'no checkpoint was written yet';
        throw new VitasError(`supernet: loss became ${loss} at epoch ${epoch + 1}, step ${step + 1} (subnet ${(costOf(specs[0]!).macs / 1e6).toFixed(1)}M MACs); stopped; ${kept}; try a lower --lr`);
      }
      losses.push(loss);
      epochLossSum += loss;
      images += batch.size;
      step++;
      o.events?.onStep?.({ epoch, step, stepsPerEpoch, loss, imagesPerSecond: (batch.size * 1000) / (performance.now() - ts), lr });
      if (o.signal?.stop) {
        save(epoch, step);
        log(`stopped at epoch ${epoch + 1}, step ${step}; checkpoint saved${ckptPath ? ` to ${ckptPath}` : ''}`);
        await stepper.dispose();
        return { supernet: net, history, losses, pId, stopped: true, ...(ckptPath ? { checkpoint: ckptPath } : {}) };
      }
      await new Promise((r) => setImmediate(r)); // let SIGINT handlers run
    }
    const rec: EpochRecord = { epoch: epoch + 1, meanLoss: epochLossSum / stepsPerEpoch, seconds: (performance.now() - t0) / 1000, images };
    if (o.validate) {
      const v = o.validate;
      rec.val = Object.fromEntries(v.subnets.map((s) => [s.name, evaluateSubnet(net, s.spec, v.data, { slicing: recipe.slicing, calibration, ...(v.images ? { limit: v.images } : {}) })]));
    }
    history.push(rec);
    save(epoch + 1, 0);
    o.events?.onEpoch?.(rec, history);
  }
  await stepper.dispose();
  opt.dispose();
  return { supernet: net, history, losses, pId, stopped: false, ...(ckptPath ? { checkpoint: ckptPath } : {}) };
}

/** A supernet with the weights of a run's checkpoint (for evaluation and search). */
export function loadSupernet(space: SearchSpace, path: string): Supernet {
  const ck = loadCheckpoint<CheckpointMeta>(path);
  if (ck.meta.space !== space.name) throw new VitasError(`${path}: checkpoint is of space "${ck.meta.space}", not "${space.name}"`);
  const r = ck.meta.recipe;
  const net = new Supernet(space, { seed: r.seed, privateTokens: r.privateTokens ?? true, privateAttention: r.privateAttention ?? true });
  for (const [name, t] of ck.tensors) {
    const kind = name.slice(0, name.indexOf('/'));
    if (kind !== 'param' && kind !== 'running') continue;
    const p = (kind === 'running' ? net.running : net.params).get(name.slice(kind.length + 1));
    if (!p || p.v.shape.join() !== t.shape.join()) throw new VitasError(`${path}: tensor ${name} does not fit space "${space.name}"`);
    tf.tidy(() => p.v.assign(tf.tensor(t.values, t.shape)));
  }
  return net;
}
