/**
 * BatchNorm over the rows of x [rows, C] (per channel), written for every backend: tfjs's
 * `batchNorm` crashes in its gradient without scale and offset on wasm, so the normalisation is a
 * custom gradient of (x, mean, variance, γ, β) holding mean and variance as inputs. Evaluation
 * passes the running statistics (constants); training passes the batch's own moments, and autodiff
 * carries the gradient through them, so one function serves both modes.
 */
import * as tf from '@tensorflow/tfjs-core';

type T2 = tf.Tensor2D;
type T1 = tf.Tensor1D;

/** PyTorch's BatchNorm default. */
export const BN_EPS = 1e-5;

/** Per-channel statistics of `count` rows: the mean and the biased variance (what a batch is normalised by). */
export interface ChannelStats {
  count: number;
  mean: Float32Array;
  variance: Float32Array;
}

/** Receives a BatchNorm layer's batch statistics (its name without `.mean`/`.var`). */
export type StatsRecorder = (layer: string, stats: ChannelStats) => void;

/**
 * How BatchNorm layers normalise: `running` by their stored running statistics (evaluation; the
 * default), `batch` by the batch's own (training, the training-free proxy); a recorder normalises
 * by the batch's own and hands each layer's statistics to it.
 */
export type NormMode = 'running' | 'batch' | StatsRecorder;

/** (x − mean)·(variance + ε)^-½·γ + β, with the partial derivatives in all five inputs. */
const normalize = tf.customGrad(((x: T2, mean: T1, variance: T1, gamma: T1, beta: T1, save: tf.GradSaveFunc) => {
  const rstd = tf.rsqrt(tf.add(variance, BN_EPS));
  const xhat = tf.mul(tf.sub(x, mean), rstd);
  save([xhat, rstd, gamma]);
  return {
    value: tf.add(tf.mul(xhat, gamma), beta),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xh, rs, g] = saved as [T2, T1, T1];
      const dxhat = tf.mul(dy, g);
      const sumDxhat = tf.sum(dxhat, 0);
      // ∂xhat/∂mean = −rstd, ∂xhat/∂variance = −½·xhat·rstd²
      const dMean = tf.neg(tf.mul(sumDxhat, rs));
      const dVar = tf.mul(tf.sum(tf.mul(dxhat, xh), 0), tf.mul(tf.mul(rs, rs), -0.5));
      return [tf.mul(dxhat, rs), dMean, dVar, tf.sum(tf.mul(dy, xh), 0), tf.sum(dy, 0)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: T2, mean: T1, variance: T1, gamma: T1, beta: T1) => T2;

/** Per-channel mean and biased variance of x [rows, C], differentiable. */
export function batchMoments(x: T2): { mean: T1; variance: T1 } {
  const mean = tf.mean(x, 0) as T1;
  const centred = tf.sub(x, mean);
  return { mean, variance: tf.mean(tf.mul(centred, centred), 0) as T1 };
}

/**
 * BatchNorm of x [rows, C] in `mode`; `running` is asked for the stored statistics only in
 * `running` mode. `layer` names the layer to a recorder.
 */
export function batchNorm(x: T2, gamma: T1, beta: T1, mode: NormMode, running: () => { mean: T1; variance: T1 }, layer: string): T2 {
  if (mode === 'running') {
    const r = running();
    return normalize(x, r.mean, r.variance, gamma, beta);
  }
  const m = batchMoments(x);
  if (typeof mode === 'function') mode(layer, { count: x.shape[0], mean: Float32Array.from(m.mean.dataSync()), variance: Float32Array.from(m.variance.dataSync()) });
  return normalize(x, m.mean, m.variance, gamma, beta);
}

/**
 * The statistics of two sets of rows pooled (Chan et al.'s parallel update), exact: the mean and
 * biased variance of all a.count + b.count rows. Sums in float64.
 */
export function combineStats(a: ChannelStats, b: ChannelStats): ChannelStats {
  const n = a.count + b.count;
  const wa = a.count / n, wb = b.count / n;
  const mean = new Float32Array(a.mean.length);
  const variance = new Float32Array(a.mean.length);
  for (let c = 0; c < mean.length; c++) {
    const d = b.mean[c]! - a.mean[c]!;
    mean[c] = wa * a.mean[c]! + wb * b.mean[c]!;
    variance[c] = wa * a.variance[c]! + wb * b.variance[c]! + wa * wb * d * d;
  }
  return { count: n, mean, variance };
}
