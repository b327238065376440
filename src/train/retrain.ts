/**
 * Retraining a spec from scratch (or from inherited weights): AdamW (decoupled weight decay, none
 * on biases/norms/tokens), warm-up + cosine, label smoothing, augmentation, drop-path. The
 * validation split picks the best epoch; the test split is read once, after training, through
 * the `test` callback — never before.
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { epochBatches, batchesPerEpoch } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import { VitasError } from '../space/errors.js';
import { Rng } from '../space/rng.js';
import type { ArchSpec } from '../space/spec.js';
import { MaskedAdamW } from '../supernet/adamw.js';
import { addStats, type LayerStats } from '../supernet/batchnorm.js';
import type { ChannelStats } from '../supernet/fn/batchnorm.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointTensor } from '../supernet/checkpoint.js';
import { smoothedCrossEntropy } from '../supernet/ops.js';
import { checkMemory } from '../supernet/memory.js';
import { DEFAULT_TRAINING, learningRate, type TrainEvents, type TrainingRecipe } from '../supernet/trainer.js';
import { evaluateModel, type Evaluation } from './evaluate.js';
import { buildModel, StandaloneModel } from './model.js';

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
  bestEpoch: number;
  bestValAccuracy: number;
  test?: Evaluation;
  stopped: boolean;
}

interface Meta {
  spec: ArchSpec;
  recipe: RetrainRecipe;
  epoch: number;
  step: number;
  history: RetrainEpoch[];
  best: { epoch: number; acc: number };
  /** loss sum and steps of the epoch in progress */
  partial: { sum: number; n: number };
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
  let history: RetrainEpoch[] = [];
  let best = { epoch: 0, acc: -1 };
  let bestWeights = new Map<string, Float32Array>();
  let startEpoch = 0, startStep = 0;
  let partial = { sum: 0, n: 0 };
  if (o.resume) {
    if (!ckpt) throw new VitasError('--resume needs --out (the folder holding retrain.ckpt)');
    const ck = loadCheckpoint<Meta>(ckpt);
    for (const [name, t] of ck.tensors) {
      const [kind, ...rest] = name.split('/');
      const key = rest.join('/');
      const v = model.weights.get(key);
      if (!v || v.shape.join() !== t.shape.join()) throw new VitasError(`${ckpt}: ${name} does not fit this spec`);
      if (kind === 'best') bestWeights.set(key, Float32Array.from(t.values));
      else if (kind === 'w') tf.tidy(() => v.assign(tf.tensor(t.values, t.shape)));
      else opt.restore(key, t.shape, kind as 'm' | 'v' | 't', t.values);
    }
    ({ epoch: startEpoch, step: startStep, history, best, partial } = ck.meta);
  }
  const save = (epoch: number, step: number, sum = 0, n = 0): void => {
    if (!ckpt) return;
    const tensors = new Map<string, CheckpointTensor>();
    const extra: tf.Tensor[] = [];
    for (const [k, v] of model.weights) tensors.set(`w/${k}`, v);
    for (const [k, s] of opt.state) for (const kind of ['m', 'v', 't'] as const) tensors.set(`${kind}/${k}`, { shape: s.shape, values: s[kind] });
    for (const [k, a] of bestWeights) {
      const t = tf.tensor(a, model.weights.get(k)!.shape);
      extra.push(t);
      tensors.set(`best/${k}`, t);
    }
    saveCheckpoint(ckpt, { spec: o.spec, recipe, epoch, step, history, best, partial: { sum, n } } satisfies Meta, tensors);
    extra.forEach((t) => t.dispose());
  };
  const stepsPerEpoch = batchesPerEpoch(o.train, recipe.batch);
  o.events?.onStart?.({ epochs: recipe.epochs, stepsPerEpoch, startEpoch, startStep, pId: undefined });
  for (let epoch = startEpoch; epoch < recipe.epochs; epoch++) {
    const dataRng = new Rng(`retrain-data:${recipe.seed}:${epoch}`);
    const t0 = performance.now();
    let step = 0;
    let { sum, n } = epoch === startEpoch ? partial : { sum: 0, n: 0 };
    let trainImages = 0;
    let trainMs = 0;
    for (const b of epochBatches(o.train, recipe.batch, dataRng, recipe.augment)) {
      if (epoch === startEpoch && step < startStep) {
        step++;
        continue; // replaying up to where the checkpoint stopped
      }
      // drop-path masks keyed by (seed, epoch, step): a resumed run draws the same ones
      const dropRng = new Rng(`retrain-drop:${recipe.seed}:${epoch}:${step}`);
      const ts = performance.now();
      const x = tf.tensor4d(b.x, [b.size, h, w, c]);
      const y = tf.tensor1d(b.y, 'int32');
      const lr = learningRate(recipe, epoch * stepsPerEpoch + step, stepsPerEpoch);
      const loss = standaloneStep(model, opt, x, y, lr, recipe, dropRng);
      x.dispose();
      y.dispose();
      if (!Number.isFinite(loss)) throw new VitasError(`retrain: loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}; stopped${ckpt && history.length ? `; the last good checkpoint is ${ckpt}` : ''}; try a lower --lr`);
      sum += loss;
      n++;
      step++;
      const ms = performance.now() - ts;
      trainMs += ms;
      trainImages += b.size;
      o.events?.onStep?.({ epoch, step, stepsPerEpoch, loss, imagesPerSecond: (b.size * 1000) / ms, lr });
      if (o.signal?.stop) {
        save(epoch, step, sum, n);
        return { model, history, bestEpoch: best.epoch, bestValAccuracy: best.acc, stopped: true };
      }
      await new Promise((r) => setImmediate(r));
    }
    const valAccuracy = evaluateModel(model, o.val).top1;
    const rec: RetrainEpoch = { epoch: epoch + 1, meanLoss: sum / Math.max(1, n), valAccuracy, seconds: (performance.now() - t0) / 1000, trainImages, trainSeconds: trainMs / 1000 };
    history.push(rec);
    if (valAccuracy > best.acc) {
      best = { epoch: epoch + 1, acc: valAccuracy };
      bestWeights = new Map([...model.weights].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
    }
    save(epoch + 1, 0);
    o.events?.onEpoch?.({ epoch: epoch + 1, meanLoss: rec.meanLoss, seconds: rec.seconds, images: n * recipe.batch });
    o.events?.onValidation?.(rec);
  }
  // model selection: the best validation epoch's weights
  for (const [k, a] of bestWeights) tf.tidy(() => model.weights.get(k)!.assign(tf.tensor(a, model.weights.get(k)!.shape)));
  opt.dispose();
  const result: RetrainResult = { model, history, bestEpoch: best.epoch, bestValAccuracy: best.acc, stopped: false };
  if (o.test) result.test = evaluateModel(model, o.test(), 'test');
  return result;
}
