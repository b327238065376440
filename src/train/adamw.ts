/**
 * AdamW with decoupled weight decay that updates exactly the slices a step used: moments, step
 * counts and weights outside them stay as they are (so weight sharing is visible: a step on
 * subnet A changes A's slices and nothing else). Step counts are per entry, so bias correction is
 * right for entries that are trained only now and then.
 *
 * The arithmetic runs in plain JS on typed arrays, entry by entry over the used region only: on
 * wasm, a tensor version spent a quarter of each supernet step on ~1,800 tiny kernels (masks,
 * per-entry `pow`) over full-size tensors. Weights go back to the variable in one upload, and
 * the uploaded array is kept for the next step instead of being read back.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A box of a variable, per axis: a supernet slice, or all of a standalone model's variable. */
export interface VariableBox {
  readonly begin: readonly number[];
  readonly size: readonly number[];
}

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 };

/** Optimizer state of one variable; `t` counts the updates of each entry. */
export interface Moments {
  shape: number[];
  m: Float32Array;
  v: Float32Array;
  t: Float32Array;
}

/** [rows, cols] view of a rank-1 or rank-2 shape (rank 1 is one row). */
function asMatrix(shape: readonly number[]): [number, number] {
  if (shape.length === 1) return [1, shape[0]!];
  if (shape.length === 2) return [shape[0]!, shape[1]!];
  throw new Error(`MaskedAdamW: parameters of rank ${shape.length} are not supported`);
}

function regionRect(r: VariableBox): { r0: number; c0: number; rows: number; cols: number } {
  const [rows, cols] = asMatrix(r.size);
  return r.size.length === 1 ? { r0: 0, c0: r.begin[0]!, rows, cols } : { r0: r.begin[0]!, c0: r.begin[1]!, rows, cols };
}

export class MaskedAdamW {
  readonly state = new Map<string, Moments>();
  /** 1 − β^t for t = 0, 1, 2, … (grown on demand) */
  private c1 = [0];
  private c2 = [0];
  /** the weights this optimiser last wrote into each variable, kept while the variable still holds them */
  private readonly written = new WeakMap<tf.Variable, { dataId: object; values: Float32Array }>();

  constructor(readonly config: AdamWConfig = ADAMW_DEFAULTS) {}

  private moments(key: string, shape: readonly number[]): Moments {
    let s = this.state.get(key);
    if (!s) {
      const n = shape.reduce((a, b) => a * b, 1);
      s = { shape: [...shape], m: new Float32Array(n), v: new Float32Array(n), t: new Float32Array(n) };
      this.state.set(key, s);
    }
    return s;
  }

  /** Set one moment array (m, v or t) of `key` from a checkpoint. */
  restore(key: string, shape: readonly number[], kind: 'm' | 'v' | 't', values: Float32Array): void {
    this.moments(key, shape)[kind].set(values);
  }

  private corrections(t: number): void {
    const { beta1, beta2 } = this.config;
    while (this.c1.length <= t) {
      const k = this.c1.length;
      this.c1.push(1 - beta1 ** k);
      this.c2.push(1 - beta2 ** k);
    }
  }

  /**
   * A private copy of what `param` holds now. Usually the array this optimiser uploaded last
   * (tensors are immutable, so while the variable keeps that data the two agree), which saves
   * reading every used variable back out of the backend on every step.
   */
  weights(param: tf.Variable): Float32Array {
    const last = this.written.get(param);
    if (last && last.dataId === param.dataId) return last.values;
    return (param.dataSync() as Float32Array).slice();
  }

  /**
   * One update of `param`. `grad` is the gradient of the box `at` (a slice of the parameter, or
   * all of it); only entries inside `used` (regions in parameter coordinates, within `at`) move.
   */
  update(key: string, param: tf.Variable, grad: tf.Tensor | Float32Array, at: VariableBox, used: readonly VariableBox[], lr: number, decay: boolean): void {
    const { beta1, beta2, eps } = this.config;
    const wd = decay ? this.config.weightDecay : 0;
    const s = this.moments(key, param.shape);
    const [, cols] = asMatrix(param.shape);
    const box = regionRect(at);
    const g = grad instanceof Float32Array ? grad : (grad.dataSync() as Float32Array);
    const w = this.weights(param);
    // entries of the box that some region used (all of them in the usual single-region step)
    let mask: Uint8Array | undefined;
    if (used.length !== 1 || used[0]!.begin.join() !== at.begin.join() || used[0]!.size.join() !== at.size.join()) {
      mask = new Uint8Array(box.rows * box.cols);
      for (const u of used) {
        const r = regionRect(u);
        for (let i = 0; i < r.rows; i++) mask.fill(1, (r.r0 - box.r0 + i) * box.cols + (r.c0 - box.c0), (r.r0 - box.r0 + i) * box.cols + (r.c0 - box.c0) + r.cols);
      }
    }
    // one pass: count the entry's step, then move it (the corrections table grows in place)
    const { c1, c2 } = this;
    const { m: ms, v: vs, t: ts } = s;
    for (let i = 0; i < box.rows; i++) {
      const base = (box.r0 + i) * cols + box.c0;
      for (let j = 0; j < box.cols; j++) {
        const gi = i * box.cols + j;
        if (mask && !mask[gi]) continue;
        const k = base + j;
        const t = ts[k]! + 1;
        ts[k] = t;
        if (t >= c1.length) this.corrections(t);
        const gk = g[gi]!;
        const m = (ms[k] = ms[k]! + (1 - beta1) * (gk - ms[k]!));
        const v = (vs[k] = vs[k]! + (1 - beta2) * (gk * gk - vs[k]!));
        const step = m / c1[t]! / (Math.sqrt(v / c2[t]!) + eps) + wd * w[k]!;
        w[k] = w[k]! - lr * step;
      }
    }
    // wasm copies an upload into its heap; other backends may keep the array itself, so they get their own
    tf.tidy(() => param.assign(tf.tensor(tf.getBackend() === 'wasm' ? w : w.slice(), param.shape)));
    this.written.set(param, { dataId: param.dataId, values: w });
  }

  dispose(): void {
    this.state.clear();
  }
}
