/**
 * One supernet optimisation step, in two halves so the first can run anywhere (this thread or a
 * worker holding a copy of the weights): `stepGradients` (forward + backward of a shard of the
 * batch, gradients w.r.t. the slices the specs use, and the BatchNorm layers' batch statistics)
 * and `applyGradients` (masked AdamW on them; the running statistics move towards the batch's).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ArchSpec } from '../space/spec.js';
import type { MaskedAdamW } from '../train/adamw.js';
import { addStats, updateRunning, type LayerStats } from './batchnorm.js';
import { smoothedCrossEntropy, softCrossEntropy } from './ops.js';
import type { Supernet, Usage } from './supernet.js';
import type { Slicing } from '../train/supernet-recipe.js';

export interface StepSettings {
  slicing: Slicing;
  labelSmoothing: number;
  /**
   * in-place distillation (BigNAS, OFA): `specs[0]` is the teacher (the largest subnet of a
   * sandwich step) and learns from the labels; every other spec learns from the teacher's soft
   * predictions of the same images, which carry no gradient back into the teacher
   */
  distill?: boolean;
}

/** x in the forward pass, no gradient in the backward one (tfjs-core has no stop_gradient). */
const stopGradient = tf.customGrad(((x: tf.Tensor) => ({ value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor2D) => tf.Tensor2D;


export interface StepGradients {
  /** mean loss over the shard (summed over specs) */
  loss: number;
  /** per variable: the gradient of its covering box (see `Supernet.leaves`) */
  grads: Map<string, Float32Array>;
  /** batch statistics of every BatchNorm layer the forwards ran (BatchNorm normalises by the shard's own) */
  stats: LayerStats[];
}

/** Loss and gradients of `specs` on images `x` and labels `y`; nothing stays allocated. */
export function stepGradients(net: Supernet, x: tf.Tensor4D, y: tf.Tensor1D, specs: ArchSpec[], s: StepSettings, usage: Usage = net.usage(specs, s.slicing)): StepGradients {
  const out: StepGradients = { loss: NaN, grads: new Map(), stats: [] };
  tf.tidy(() => {
    const leaves = net.leaves(usage);
    const keys = [...leaves.keys()];
    const lossFn = (): tf.Scalar => {
      let sum: tf.Scalar | undefined;
      let teacher: tf.Tensor2D | undefined;
      for (const [i, spec] of specs.entries()) {
        const logits = net.forward(x, spec, s.slicing, undefined, leaves, (side, layer, stats) => addStats(out.stats, i, side, layer, stats));
        const l = teacher ? softCrossEntropy(logits, teacher) : smoothedCrossEntropy(logits, y, net.space.classes, s.labelSmoothing);
        if (s.distill && i === 0) teacher = tf.softmax(stopGradient(logits));
        sum = sum ? (tf.add(sum, l) as tf.Scalar) : l;
      }
      return sum!;
    };
    const { value, grads } = tf.valueAndGrads(lossFn)(keys.map((k) => leaves.get(k)!.t));
    out.loss = value.dataSync()[0]!;
    if (Number.isFinite(out.loss)) keys.forEach((k, i) => out.grads.set(k, grads[i]!.dataSync() as Float32Array));
  });
  return out;
}

/** AdamW on the used slices of every variable in `usage`; the running statistics of `specs`' BatchNorm layers move towards `stats`. */
export function applyGradients(net: Supernet, opt: MaskedAdamW, usage: Usage, grads: Map<string, Float32Array>, lr: number, specs: readonly ArchSpec[] = [], stats: readonly LayerStats[] = []): void {
  for (const [key, regions] of usage) {
    const p = net.params.get(key)!;
    const g = grads.get(key);
    if (g) opt.update(key, p.v, g, net.box(usage, key), regions, lr, p.decay);
  }
  updateRunning(net, specs, stats);
}

/** One optimisation step on `specs` (losses summed), in this thread; returns the loss. */
export function trainStep(net: Supernet, opt: MaskedAdamW, x: tf.Tensor4D, y: tf.Tensor1D, specs: ArchSpec[], lr: number, s: StepSettings): number {
  const usage = net.usage(specs, s.slicing);
  const { loss, grads, stats } = stepGradients(net, x, y, specs, s, usage);
  if (Number.isFinite(loss)) applyGradients(net, opt, usage, grads, lr, specs, stats);
  return loss;
}
