/**
 * Supernet training (DESIGN §5): one sampled subnet per step (uniform, or with the tuned identity
 * probability), optional sandwich rule, masked AdamW, label smoothing — run by the shared
 * training loop (src/train/loop.ts: schedule, checkpoints, exact resume, Ctrl-C, NaN stop).
 * Data order and augmentation come from an RNG keyed by (seed, epoch), the subnet samples from
 * another, so a resumed epoch draws the same ones.
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { epochBatches, batchesPerEpoch, orderedBatches, type Batch } from '../data/batches.js';
import type { Dataset, Norm, Splits } from '../data/dataset.js';
import { costOf } from '../space/cost.js';
import { VitasError } from '../errors.js';
import { defaultIdentityProbability, sampleSpec } from '../space/genome.js';
import { searchIdentityProbability, type BudgetWindow } from '../space/identity-search.js';
import { depthCorners, reachableRange } from '../space/range.js';
import { Rng } from '../space/rng.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { MaskedAdamW } from '../train/adamw.js';
import type { EpochRecord, StartEvent, TrainEvents } from '../train/events.js';
import { openCheckpoint, trainingLoop, type LoopPosition, type TrainingTask } from '../train/loop.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { restoreState, type TrainingState } from '../train/state.js';
import { calibrationImages, recalibrate } from './batchnorm.js';
import { DataParallelStep } from './data-parallel.js';
import { checkMemory, evaluationBatch } from './memory.js';
import { DEFAULT_RECIPE, type Slicing, type SupernetRecipe } from '../train/supernet-recipe.js';
import { Supernet, supernetOptions } from './supernet.js';

/** Subnets whose inherited-weight accuracy is measured after every epoch (the learning curve). */
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

export interface EpochValidation {
  data: Dataset;
  subnets: { name: string; spec: ArchSpec }[];
  /** the first N validation images (all when absent) */
  images?: number;
}

/** A supernet run's start: what it actually trains with, after a resume merged the checkpoint's recipe. */
export interface SupernetStartEvent extends StartEvent {
  /** the identity probability subnets are sampled with (undefined: uniform) */
  pId: number | undefined;
  recipe: SupernetRecipe;
  stages: readonly StageRecord[];
}

export interface TrainSupernetOptions {
  space: SearchSpace;
  data: Splits;
  recipe?: Partial<SupernetRecipe>;
  budget?: BudgetWindow;
  /** run folder: checkpoint `supernet.ckpt` lives here */
  out?: string;
  resume?: boolean;
  events?: TrainEvents<SupernetStartEvent>;
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

/** supernet.ckpt's metadata besides the loop's position (epoch, step, history, partial). */
interface CheckpointMeta {
  space: string;
  recipe: SupernetRecipe;
  pId: number | null;
  /** threads of the process that wrote it (a different count changes float rounding only) */
  threads?: number;
  /** every invocation so far (absent in checkpoints written before stages were recorded) */
  stages?: StageRecord[];
  /** the training images' normalisation (absent in checkpoints written before it was recorded: the whole training file's then) */
  norm?: Norm;
}

/** The subnets trained at one step: with the sandwich rule the largest and smallest first (the teacher is `[0]`), then with `corners` the wide-and-shallow and narrow-and-deep subnets, then `randomSubnets` random ones. */
export function stepSpecs(space: SearchSpace, rng: Rng, recipe: SupernetRecipe, pId: number | undefined, ends: { min: ArchSpec; max: ArchSpec; corners?: ArchSpec[] }): ArchSpec[] {
  const random = Array.from({ length: recipe.randomSubnets }, () => sampleSpec(space, rng, pId === undefined ? {} : { pId }));
  if (!recipe.sandwich) return random;
  return [ends.max, ends.min, ...(recipe.corners ? (ends.corners ?? []) : []), ...random];
}

/** ViTAS's identity search when the recipe samples that way in a space with identity blocks anywhere; else undefined (the sampler's default p_id). */
export function identitySearch(space: SearchSpace, recipe: Pick<SupernetRecipe, 'sampling' | 'seed'>, budget: BudgetWindow | undefined): ReturnType<typeof searchIdentityProbability> | undefined {
  if (recipe.sampling !== 'identity-search' || space.identity !== 'anywhere') return undefined;
  if (!budget) throw new VitasError('supernet: sampling "identity-search" needs a budget window (--budget)');
  return searchIdentityProbability(space, budget, { seed: recipe.seed });
}

/** The p_id a supernet with this recipe samples with: identity search's, else uniform sampling's 1/(head choices + 1); undefined where the space has no identity blocks to sample. */
export function trainedIdentityProbability(space: SearchSpace, recipe: Pick<SupernetRecipe, 'sampling' | 'seed'>, budget: BudgetWindow | undefined): number | undefined {
  if (space.identity !== 'anywhere') return undefined;
  return identitySearch(space, recipe, budget)?.pId ?? defaultIdentityProbability(space);
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
  const hits = subnetHits(net, spec, ds, opts);
  return hits.reduce((a, x) => a + x, 0) / hits.length;
}

/** 1 where the subnet classifies the image right, else 0, for each image evaluateSubnet scores (in order). */
export function subnetHits(net: Supernet, spec: ArchSpec, ds: Dataset, opts: SubnetEvalOptions = {}): Uint8Array {
  if (opts.calibration) recalibrate(net, spec, opts.calibration, { slicing: opts.slicing ?? 'left' });
  const hits: Uint8Array[] = [];
  const [h, w, c] = ds.shape;
  const weightBytes = 4 * [...net.params.values()].reduce((a, p) => a + p.v.size, 0);
  // exactly `limit` images, whatever the batch: the score must not depend on how memory cut the batches
  for (const b of orderedBatches(ds, opts.batch ?? evaluationBatch(spec, weightBytes), opts.limit)) {
    hits.push(tf.tidy(() => {
      const logits = net.forward(tf.tensor4d(b.x, [b.size, h, w, c]), spec, opts.slicing ?? 'left');
      return Uint8Array.from(tf.equal(tf.argMax(logits, 1), tf.tensor1d(b.y, 'int32')).dataSync());
    }));
  }
  const all = new Uint8Array(hits.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const x of hits) {
    all.set(x, at);
    at += x.length;
  }
  return all;
}

/** A supernet's variables as a checkpoint holds them: `param/…` and `running/…` (BatchNorm statistics). */
function supernetState(net: Supernet, opt?: MaskedAdamW): TrainingState {
  const vars = (m: Supernet['params']): Map<string, tf.Variable> => new Map([...m].map(([k, p]) => [k, p.v]));
  return { variables: { param: vars(net.params), running: vars(net.running) }, ...(opt ? { optimizer: { opt, of: 'param' } } : {}) };
}

export async function trainSupernet(o: TrainSupernetOptions): Promise<TrainResult> {
  const recipe: SupernetRecipe = { ...DEFAULT_RECIPE, ...o.recipe, augment: { ...DEFAULT_RECIPE.augment, ...o.recipe?.augment } };
  const { space, data } = o;
  const log = (m: string): void => o.events?.onLog?.(m);
  const ckptPath = o.out ? join(o.out, 'supernet.ckpt') : undefined;
  if (space.input.join() !== data.train.shape.join()) throw new VitasError(`data: images are ${data.train.shape.join('×')} but space "${space.name}" expects ${space.input.join('×')}`);
  if (space.classes !== data.train.classes) throw new VitasError(`data: ${data.train.classes} classes but space "${space.name}" has ${space.classes}`);
  if (recipe.distill && !recipe.sandwich) throw new VitasError('supernet: distill (in-place distillation) needs sandwich: the largest subnet of each step is the teacher');
  if (recipe.corners && !recipe.sandwich) throw new VitasError('supernet: corners (the depth corners) extend the sandwich: they need sandwich');
  const range = reachableRange(space, o.budget?.convention ?? 'macs');
  const options = supernetOptions(recipe);
  await checkMemory({ spec: range.maxSpec, supernet: { space, options }, sides: recipe.slicing === 'two-sided' ? 2 : 1 }, recipe.batch, 'supernet.batch');

  const identity = identitySearch(space, recipe, o.budget);
  let pId = identity?.pId;
  if (identity) log(`identity probability p_id = ${identity.pId} (mean cost of 1000 random subnets ${(identity.meanMacs / 1e6).toFixed(2)}M, ${identity.steps} steps)`);

  const net = new Supernet(space, { seed: recipe.seed, ...options });
  const opt = new MaskedAdamW({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: recipe.weightDecay });
  const state = supernetState(net, opt);
  const threads = Math.max(1, o.threads ?? 1);
  let from: LoopPosition<EpochRecord> | undefined;
  let stages: StageRecord[] = [];
  if (o.resume) {
    if (!ckptPath) throw new VitasError('--resume needs --out (the run folder holding supernet.ckpt)');
    const resumed = openCheckpoint<CheckpointMeta, EpochRecord>(ckptPath, state, `space "${space.name}"`, (meta) => {
      if (meta.space !== space.name) throw new VitasError(`${ckptPath}: checkpoint is of space "${meta.space}", not "${space.name}"`);
    });
    const { meta } = resumed;
    from = resumed.from;
    // a checkpoint from before randomSubnets existed trained one random subnet a step: keep it so
    // (and without corners, which came after)
    Object.assign(recipe, { ...meta.recipe, randomSubnets: (meta.recipe as Partial<SupernetRecipe>).randomSubnets ?? 1, corners: (meta.recipe as Partial<SupernetRecipe>).corners ?? false, epochs: recipe.epochs });
    const sandwich = o.resumeWith?.sandwich;
    if (sandwich !== undefined && sandwich !== recipe.sandwich) {
      recipe.sandwich = sandwich;
      log(`sandwich rule ${sandwich ? 'on' : 'off'} from epoch ${from.epoch + 1}, step ${from.step} (a new stage of this run)`);
    }
    const restartLr = o.resumeWith?.lr;
    if (restartLr !== undefined) {
      if (!(restartLr > recipe.minLr)) throw new VitasError(`--restart-lr: ${restartLr} must be above the recipe's minLr ${recipe.minLr}`);
      const perEpoch = batchesPerEpoch(data.train, recipe.batch); // the checkpoint's batch size
      const step = from.epoch * perEpoch + from.step;
      if (step >= recipe.epochs * perEpoch) throw new VitasError(`--restart-lr: the checkpoint is at the end of epoch ${from.epoch}; raise --epochs to train on`);
      recipe.restart = { step, lr: restartLr };
      log(`learning rate restarts at ${restartLr} from epoch ${from.epoch + 1}, step ${from.step}, cosine down to ${recipe.minLr} at the end of epoch ${recipe.epochs} (a new stage of this run)`);
    }
    pId = meta.pId ?? undefined;
    stages = meta.stages ?? [];
    log(`resumed from ${ckptPath} at epoch ${from.epoch + 1}, step ${from.step}`);
    if ((meta.threads ?? 1) !== threads) log(`note: the checkpoint was written with ${meta.threads ?? 1} thread(s), this run uses ${threads}: losses match up to float rounding, not bit for bit`);
    const norm = data.train.norm;
    if (meta.norm?.mean !== norm.mean || meta.norm.std !== norm.std) {
      const then = meta.norm ? `mean ${meta.norm.mean}, std ${meta.norm.std}` : 'the whole training file\'s statistics (written before vitas normalised by the training split alone)';
      log(`note: the checkpoint trained on images normalised with ${then}, these are normalised with mean ${norm.mean}, std ${norm.std}: the run goes on, not bit for bit`);
    }
  }
  const startEpoch = from?.epoch ?? 0;
  // a resume with nothing left to train is not a stage
  if (startEpoch < recipe.epochs) stages.push({ fromEpoch: startEpoch + 1, fromStep: from?.step ?? 0, toEpoch: recipe.epochs, sandwich: recipe.sandwich, ...(o.resume && o.resumeWith?.lr !== undefined ? { restartLr: o.resumeWith.lr } : {}), threads });

  const stepper = new DataParallelStep(net, threads);
  const { wideShallow, narrowDeep } = depthCorners(space, range);
  const ends = { min: range.minSpec, max: range.maxSpec, corners: [wideShallow, narrowDeep] };
  const calibration = calibrationImages(data.train);
  const task: TrainingTask<Batch & { specs: ArchSpec[] }, EpochRecord> = {
    name: 'supernet',
    stepsPerEpoch: batchesPerEpoch(data.train, recipe.batch),
    *batches(epoch) {
      const dataRng = new Rng(`data:${recipe.seed}:${epoch}`);
      const netRng = new Rng(`subnets:${recipe.seed}:${epoch}`);
      for (const b of epochBatches(data.train, recipe.batch, dataRng, recipe.augment)) yield { ...b, specs: stepSpecs(space, netRng, recipe, pId, ends) };
    },
    step: (b, lr) => stepper.step(opt, b, b.specs, lr, recipe),
    describe: (b) => `subnet ${(costOf(b.specs[0]!).macs / 1e6).toFixed(1)}M MACs`,
    endOfEpoch(e) {
      const rec: EpochRecord = { epoch: e.epoch, meanLoss: e.meanLoss, seconds: e.seconds, images: e.images, trainSeconds: e.trainSeconds };
      const v = o.validate;
      if (v) rec.val = Object.fromEntries(v.subnets.map((s) => [s.name, evaluateSubnet(net, s.spec, v.data, { slicing: recipe.slicing, calibration, ...(v.images ? { limit: v.images } : {}) })]));
      return rec;
    },
  };
  const meta = (): CheckpointMeta => ({ space: space.name, recipe, pId: pId ?? null, threads, stages, norm: data.train.norm });
  try {
    const run = await trainingLoop({
      task,
      schedule: recipe,
      ...(ckptPath ? { checkpoint: { path: ckptPath, meta, state } } : {}),
      ...(from ? { from } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      events: {
        onStart: (e) => o.events?.onStart?.({ ...e, pId, recipe, stages }),
        onStep: (e) => o.events?.onStep?.(e),
        onEpoch: (e, history) => o.events?.onEpoch?.(e, history),
        onLog: log,
      },
    });
    if (!run.stopped) opt.dispose();
    return { supernet: net, history: run.history, losses: run.losses, pId, stopped: run.stopped, ...(ckptPath ? { checkpoint: ckptPath } : {}) };
  } catch (e) {
    opt.dispose();
    net.dispose();
    throw e;
  } finally {
    await stepper.dispose();
  }
}

/** A supernet with the weights of a run's checkpoint (for evaluation and search). */
export function loadSupernet(space: SearchSpace, path: string): Supernet {
  return loadSupernetRun(space, path).net;
}

/**
 * The supernet of a checkpoint and the identity probability it was trained with (`pId`: null
 * when it trained without identity search; undefined in checkpoints older than that record).
 */
export function loadSupernetRun(space: SearchSpace, path: string): { net: Supernet; pId: number | null | undefined } {
  const ck = loadCheckpoint<CheckpointMeta>(path);
  if (ck.meta.space !== space.name) throw new VitasError(`${path}: checkpoint is of space "${ck.meta.space}", not "${space.name}"`);
  const r = ck.meta.recipe;
  const net = new Supernet(space, { seed: r.seed, ...supernetOptions(r) });
  restoreState(supernetState(net), ck.tensors, path, `space "${space.name}"`);
  return { net, pId: ck.meta.pId };
}
