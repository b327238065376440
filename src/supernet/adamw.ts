/**
 * AdamW with decoupled weight decay that updates exactly the slices a step used: moments, step
 * counts and weights outside them stay as they are (so weight sharing is visible: a step on
 * subnet A changes A's slices and nothing else). Step counts are per entry, so bias correction is
 * right for entries that are trained only now and then.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Region } from './supernet.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 };

export interface Moments {
  m: tf.Variable;
  v: tf.Variable;
  t: tf.Variable;
}

export class MaskedAdamW {
  readonly state = new Map<string, Moments>();
  constructor(readonly config: AdamWConfig = ADAMW_DEFAULTS) {}

  private moments(key: string, like: tf.Variable): Moments {
    let s = this.state.get(key);
    if (!s) {
      s = {
        m: tf.variable(tf.zerosLike(like), false),
        v: tf.variable(tf.zerosLike(like), false),
        t: tf.variable(tf.zerosLike(like), false),
      };
      this.state.set(key, s);
    }
    return s;
  }

  /** Set one moment tensor (m, v or t) of `key` from a checkpoint. */
  restore(key: string, like: tf.Variable, kind: 'm' | 'v' | 't', value: tf.Tensor): void {
    this.moments(key, like)[kind].assign(value);
  }

  /** Apply one update to `param` from its full-shape gradient, only inside `regions`. */
  update(key: string, param: tf.Variable, grad: tf.Tensor, regions: Region[], lr: number, decay: boolean): void {
    const s = this.moments(key, param);
    const { beta1, beta2, eps, weightDecay } = this.config;
    tf.tidy(() => {
      const full = regions.some((r) => r.size.every((n, i) => n === param.shape[i]));
      let mask: tf.Tensor | undefined;
      if (!full) {
        for (const r of regions) {
          const pads = r.size.map((n, i) => [r.begin[i]!, param.shape[i]! - r.begin[i]! - n] as [number, number]);
          const one = tf.pad(tf.ones(r.size), pads);
          mask = mask ? tf.maximum(mask, one) : one;
        }
      }
      const masked = (t: tf.Tensor): tf.Tensor => (mask ? tf.mul(t, mask) : t);
      const t = tf.add(s.t, mask ?? 1);
      const m = tf.add(s.m, masked(tf.mul(tf.sub(grad, s.m), 1 - beta1)));
      const v = tf.add(s.v, masked(tf.mul(tf.sub(tf.mul(grad, grad), s.v), 1 - beta2)));
      const tc = tf.maximum(t, 1);
      const mhat = tf.div(m, tf.sub(1, tf.pow(tf.scalar(beta1), tc)));
      const vhat = tf.div(v, tf.sub(1, tf.pow(tf.scalar(beta2), tc)));
      let step = tf.div(mhat, tf.add(tf.sqrt(vhat), eps));
      if (decay && weightDecay > 0) step = tf.add(step, tf.mul(param, weightDecay));
      param.assign(tf.sub(param, masked(tf.mul(step, lr))));
      s.m.assign(m);
      s.v.assign(v);
      s.t.assign(t);
    });
  }

  dispose(): void {
    for (const s of this.state.values()) [s.m, s.v, s.t].forEach((x) => x.dispose());
    this.state.clear();
  }
}
