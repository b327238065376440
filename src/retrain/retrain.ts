/**
 * Retraining a spec from scratch (or from inherited weights): AdamW (decoupled weight decay, none
 * on biases/norms/tokens), warm-up + cosine, label smoothing, augmentation, drop-path — run by
 * the shared training loop (loop.ts). The validation split picks the best epoch; the test split
 * is read once, after training, through the `test` callback — never before.
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { epochBatches, batchesPerEpoch, type Batch } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import { VitasError } from '../errors.js';
import { Rng } from '../space/rng.js';
import type { ArchSpec } from '../space/spec.js';
import { addStats, type LayerStats } from '../supernet/batchnorm.js';
import type { ChannelStats } from '../supernet/fn/batchnorm.js';
import { smoothedCrossEntropy } from '../supernet/ops.js';
import { checkMemory } from '../supernet/memory.js';
import { MaskedAdamW } from '../train/adamw.js';
import { evaluateModel, type Evaluation } from './evaluate.js';
import type { TrainEvents } from '../train/events.js';
import { openCheckpoint, trainingLoop, type LoopPosition, type TrainingTask } from '../train/loop.js';
import { buildModel, StandaloneModel } from './model.js';
import { DEFAULT_TRAINING, type TrainingRecipe } from '../train/recipe.js';
import type { TrainingState } from '../train/state.js';

export interface RetrainRecipe extends TrainingRecipe {
  dropPath: number;
}

export const DEFAULT_RETRAIN: RetrainRecipe = { ...DEFAULT_TRAINING, dropPath: 0.1 };

export interface RetrainEpoch {
  epoch: number;
  meanLoss: number;
  valAccuracy: number;
  seconds: number;
  /** images trained on and seconds spent in training steps in this epoch (by this process: a resumed epoch counts its second part only) */
  trainImages?: number;
  trainSeconds?: number;
}

export interface RetrainOptions {
  spec: ArchSpec;
  train: Dataset;
  val: Dataset;
  /** called once, after training, for the final test evaluation */
  test?: () => Dataset;
  recipe?: Partial<RetrainRecipe>;
  /** start from these weights (e.g. extractSubnet of a supernet) instead of a fresh init */
  init?: StandaloneModel;
  out?: string;
  resume?: boolean;
  /** names the spec in errors (its file) */
  where?: string;
  events?: TrainEvents & { onValidation?(e: RetrainEpoch): void };
  signal?: { stop: boolean };
}

export interface RetrainResult {
  model: StandaloneModel;
  history: RetrainEpoch[];
  /** per-step losses of this process */
  losses: number[];
  bestEpoch: number;
  bestValAccuracy: number;
  test?: Evaluation;
  stopped: boolean;
}

/** retrain.ckpt's metadata besides the loop's position (epoch, step, history, partial). */
interface Meta {
  spec: ArchSpec;
  recipe: RetrainRecipe;
  best: { epoch: number; acc: number };
}

/** One AdamW step of a standalone model; BatchNorm layers train on batch statistics and their running statistics follow (momentum 0.1). */
export function standaloneStep(model: StandaloneModel, opt: MaskedAdamW, x: tf.Tensor4D, y: tf.Tensor1D, lr: number, r: Pick<RetrainRecipe, 'labelSmoothing' | 'dropPath'>, rng: Rng): number {
  return tf.tidy(() => {
    const trainable = model.trainableWeights();
    const stats: LayerStats[] = [];
    const norm = (layer: string, s: ChannelStats): void => addStats(stats, 0, 'left', layer, s);
    const { value, grads } = tf.variableGrads(() => smoothedCrossEntropy(model.forward(x, { dropPath: r.dropPath, rng, norm }), y, model.spec.classes, r.labelSmoothing), trainable.map(([, v]) => v));
    const loss = value.dataSync()[0]!;
    if (!Number.isFinite(loss)) return loss;
    model.updateRunning(stats);
    for (const [name, v] of trainable) {
      const g = grads[v.name];
      const all = { begin: v.shape.map(() => 0), size: v.shape };
      if (g) opt.update(name, v, g, all, [all], lr, model.decays(name));
    }
    return loss;
  });
}

export async function retrain(o: RetrainOptions): Promise<RetrainResult> {
  const recipe: RetrainRecipe = { ...DEFAULT_RETRAIN, ...o.recipe, augment: { ...DEFAULT_RETRAIN.augment, ...o.recipe?.augment } };
  const [h, w, c] = o.train.shape;
  const where = o.where ?? 'spec';
  if (o.spec.input.join() !== o.train.shape.join()) throw new VitasError(`${where}: input ${o.spec.input.join('×')} does not match the data's ${o.train.shape.join('×')}`);
  if (o.spec.classes !== o.train.classes) throw new VitasError(`${where}: classes ${o.spec.classes} does not match the data's ${o.train.classes}`);
  await checkMemory({ spec: o.spec, where }, recipe.batch);
  const model = o.init ?? buildModel(o.spec, recipe.seed);
  const opt = new MaskedAdamW({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: recipe.weightDecay });
  const ckpt = o.out ? join(o.out, 'retrain.ckpt') : undefined;
  // the best validation epoch's weights, kept on the host (and in the checkpoint, as `best/…`)
  const bestWeights = new Map<string, Float32Array>();
  const state: TrainingState = { variables: { w: model.weights }, optimizer: { opt, of: 'w' }, copies: { best: { of: 'w', values: bestWeights } } };
  let best = { epoch: 0, acc: -1 };
  let from: LoopPosition<RetrainEpoch> | undefined;
  if (o.resume) {
    if (!ckpt) throw new VitasError('--resume needs --out (the folder holding retrain.ckpt)');
    const resumed = openCheckpoint<Meta, RetrainEpoch>(ckpt, state, where);
    ({ from } = resumed);
    best = resumed.meta.best;
  }
  const task: TrainingTask<Batch, RetrainEpoch> = {
    name: 'retrain',
    stepsPerEpoch: batchesPerEpoch(o.train, recipe.batch),
    batches: (epoch) => epochBatches(o.train, recipe.batch, new Rng(`retrain-data:${recipe.seed}:${epoch}`), recipe.augment),
    step(b, lr, epoch, step) {
      // drop-path masks keyed by (seed, epoch, step): a resumed run draws the same ones
      const dropRng = new Rng(`retrain-drop:${recipe.seed}:${epoch}:${step}`);
      const x = tf.tensor4d(b.x, [b.size, h, w, c]);
      const y = tf.tensor1d(b.y, 'int32');
      const loss = standaloneStep(model, opt, x, y, lr, recipe, dropRng);
      x.dispose();
      y.dispose();
      return loss;
    },
    endOfEpoch(e) {
      const t0 = performance.now();
      const valAccuracy = evaluateModel(model, o.val).top1;
      if (valAccuracy > best.acc) {
        best = { epoch: e.epoch, acc: valAccuracy };
        for (const [k, v] of model.weights) bestWeights.set(k, Float32Array.from(v.dataSync() as Float32Array));
      }
      return { epoch: e.epoch, meanLoss: e.meanLoss, valAccuracy, seconds: e.seconds + (performance.now() - t0) / 1000, trainImages: e.images, trainSeconds: e.trainSeconds };
    },
  };
  const run = await trainingLoop({
    task,
    schedule: recipe,
    ...(ckpt ? { checkpoint: { path: ckpt, meta: (): Meta => ({ spec: o.spec, recipe, best }), state } } : {}),
    ...(from ? { from } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    events: {
      onStart: (e) => o.events?.onStart?.(e),
      onStep: (e) => o.events?.onStep?.(e),
      onEpoch: (r) => {
        o.events?.onEpoch?.({ epoch: r.epoch, meanLoss: r.meanLoss, seconds: r.seconds, images: r.trainImages ?? 0, ...(r.trainSeconds ? { trainSeconds: r.trainSeconds } : {}) });
        o.events?.onValidation?.(r);
      },
      onLog: (m) => o.events?.onLog?.(m),
    },
  });
  const result: RetrainResult = { model, history: run.history, losses: run.losses, bestEpoch: best.epoch, bestValAccuracy: best.acc, stopped: run.stopped };
  if (run.stopped) return result;
  // model selection: the best validation epoch's weights
  for (const [k, a] of bestWeights) tf.tidy(() => model.weights.get(k)!.assign(tf.tensor(a, model.weights.get(k)!.shape)));
  opt.dispose();
  if (o.test) result.test = evaluateModel(model, o.test(), 'test');
  return result;
}
