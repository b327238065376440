/**
 * BatchNorm running statistics in the weight-sharing supernet (DESIGN §6). Each BN layer keeps one
 * running mean and variance at the space's maxima; a subnet reads the slice of its width. Training
 * steps move the slices they used towards the batch statistics (momentum 0.1, as PyTorch); but a
 * subnet's batch statistics differ from every other's, so before a subnet is scored `recalibrate`
 * recomputes its layers' statistics on a seeded sample of training images (Once-for-All's
 * `reset_running_statistics`), touching no weight.
 */
import * as tf from '@tensorflow/tfjs-core';
import { orderedBatches } from '../data/batches.js';
import { subset, type Dataset } from '../data/dataset.js';
import { paramList } from '../space/params.js';
import { Rng } from '../space/rng.js';
import type { ArchSpec } from '../space/spec.js';
import { combineStats, type ChannelStats } from './fn/batchnorm.js';
import type { Side, Supernet } from './supernet.js';
import type { Slicing } from '../train/supernet-recipe.js';

/** PyTorch's default: running ← 0.9·running + 0.1·batch. */
export const BN_MOMENTUM = 0.1;

/** Images a recalibration reads by default. */
export const CALIBRATION_IMAGES = 500;

/** The batch statistics of one BatchNorm layer in one forward: subnet `spec` (an index into the step's specs), slicing side. */
export interface LayerStats extends ChannelStats {
  spec: number;
  side: Side;
  layer: string;
}

/**
 * Adds one layer's batch statistics to `log`, pooled exactly with what `log` already holds for the
 * same (spec, side, layer): the passes of a recursive block, the chunks of a calibration, the
 * shards of a data-parallel step.
 */
export function addStats(log: LayerStats[], spec: number, side: Side, layer: string, stats: ChannelStats): void {
  const i = log.findIndex((e) => e.spec === spec && e.side === side && e.layer === layer);
  if (i < 0) log.push({ spec, side, layer, count: stats.count, mean: stats.mean, variance: stats.variance });
  else log[i] = { spec, side, layer, ...combineStats(log[i]!, stats) };
}

/** Names of the BatchNorm layers `spec` uses (its running statistics are `{layer}.mean` and `{layer}.var`). */
export function batchNormLayers(spec: ArchSpec): string[] {
  return paramList(spec)
    .filter((e) => e.kind.running && e.name.endsWith('.mean'))
    .map((e) => e.name.slice(0, -'.mean'.length));
}

/** v[begin + i] ← (1 − momentum)·v[begin + i] + momentum·values[i] (momentum 1: set) for a 1-D variable. */
export function blendInto(v: tf.Variable, begin: number, values: Float32Array, momentum: number): void {
  const all = (v.dataSync() as Float32Array).slice();
  for (let i = 0; i < values.length; i++) all[begin + i] = momentum === 1 ? values[i]! : (1 - momentum) * all[begin + i]! + momentum * values[i]!;
  tf.tidy(() => v.assign(tf.tensor(all, v.shape)));
}

/** Moves the running statistics of every layer in `log` towards its batch statistics, on the slices its subnet and side read. */
export function updateRunning(net: Supernet, specs: readonly ArchSpec[], log: readonly LayerStats[], momentum = BN_MOMENTUM): void {
  if (log.length === 0) return;
  const entries = specs.map((s) => new Map(paramList(s).map((e) => [e.name, e])));
  for (const e of log) {
    const spec = specs[e.spec]!;
    for (const [suffix, values] of [['mean', e.mean], ['var', e.variance]] as const) {
      const { param, region } = net.resolve(entries[e.spec]!.get(`${e.layer}.${suffix}`)!, spec, e.side);
      blendInto(param.v, region.begin[0]!, values, momentum);
    }
  }
}

/** A seeded sample of `count` training images (all of them when there are fewer) for `recalibrate`; pass the training split, never validation or test. */
export function calibrationImages(train: Dataset, count = CALIBRATION_IMAGES, seed = 0): Dataset {
  const order = new Rng(`calibration:${seed}`).shuffle(Array.from({ length: train.count }, (_, i) => i));
  return subset(train, order.slice(0, Math.min(count, train.count)).sort((a, b) => a - b), `${train.name}/calibration`);
}

/**
 * Sets the running statistics of exactly the BatchNorm layers `spec` uses (on the slices it reads:
 * left, or left and right for `two-sided`) to their batch statistics over `images`, run through
 * the subnet in chunks of `batch` images with batch statistics, as in training (with more images
 * than one chunk, each chunk is normalised by its own statistics and the chunks' statistics are
 * pooled exactly). Changes no weight; a spec without BatchNorm runs nothing.
 */
export function recalibrate(net: Supernet, spec: ArchSpec, images: Dataset, opts: { slicing?: Slicing; batch?: number } = {}): void {
  if (batchNormLayers(spec).length === 0) return;
  const log: LayerStats[] = [];
  const [h, w, c] = images.shape;
  for (const b of orderedBatches(images, opts.batch ?? 250)) {
    tf.tidy(() => void net.forward(tf.tensor4d(b.x, [b.size, h, w, c]), spec, opts.slicing ?? 'left', undefined, undefined, (side, layer, stats) => addStats(log, 0, side, layer, stats)));
  }
  updateRunning(net, [spec], log, 1);
}
