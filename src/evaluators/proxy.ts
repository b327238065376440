/**
 * Training-free proxy: synaptic saliency (SNIP; Lee et al. 2019, one of the zero-cost proxies of
 * Abdelfattah et al. 2021) at initialisation, Σ |W ⊙ ∂L/∂W| over every weight matrix, for a
 * seeded random batch with random labels. It is the MLP term of TF-TAS's DSS indicator applied to
 * all layers (DSS's nuclear norm over MSA weights needs an SVD per matrix, too slow here).
 * Needs no trained weights and no dataset: weights are slices of one randomly initialised supernet.
 * BatchNorm layers normalise by the batch's statistics (an untrained network has no running ones).
 */
import * as tf from '@tensorflow/tfjs-core';
import { specKey, type ArchSpec } from '../space/spec.js';
import type { SearchSpace } from '../space/space.js';
import { smoothedCrossEntropy } from '../supernet/ops.js';
import { Supernet } from '../supernet/supernet.js';
import { paramList } from '../space/params.js';
import { tensorSeed } from '../space/rng.js';
import { vitForward, type ParamSource } from '../supernet/vit.js';
import type { Evaluator } from './evaluator.js';

export class ProxyEvaluator implements Evaluator {
  readonly name = 'proxy';
  readonly higherIsBetter = true;
  private readonly net: Supernet;
  private readonly cache = new Map<string, number>();
  private readonly x: tf.Tensor4D;
  private readonly y: tf.Tensor1D;

  constructor(space: SearchSpace, opts: { seed?: number; batch?: number } = {}) {
    const seed = opts.seed ?? 0;
    this.net = new Supernet(space, { seed });
    const b = opts.batch ?? 2;
    this.x = tf.randomNormal([b, ...space.input], 0, 1, 'float32', tensorSeed(seed, 'proxy/input')) as tf.Tensor4D;
    this.y = tf.tensor1d(Array.from({ length: b }, (_, i) => (i * 7919) % space.classes), 'int32');
  }

  async evaluate(specs: ArchSpec[]): Promise<number[]> {
    return specs.map((s) => {
      const key = specKey(s);
      let v = this.cache.get(key);
      if (v === undefined) {
        v = this.score(s);
        this.cache.set(key, v);
      }
      return v;
    });
  }

  /** Gradients are taken w.r.t. the subnet's slices directly, so nothing is padded to supernet size. */
  score(spec: ArchSpec): number {
    return tf.tidy(() => {
      // trainable parameters are differentiated; buffers (fixed features) are constants
      const params = paramList(spec).filter((e) => e.kind.trainable);
      const slices = params.map((e) => {
        const { param, region } = this.net.resolve(e, spec, 'left');
        return tf.slice(param.v, region.begin, region.size);
      });
      const byName = new Map(params.map((p, i) => [p.name, slices[i]!]));
      const buffers = this.net.source(spec, 'left');
      const f = (...xs: tf.Tensor[]): tf.Scalar => {
        const index = new Map(params.map((p, i) => [p.name, i]));
        const src: ParamSource = { get: (n) => (index.has(n) ? xs[index.get(n)!]! : buffers.get(n)) };
        return smoothedCrossEntropy(vitForward(this.x, spec, src, { norm: 'batch' }), this.y, spec.classes, 0);
      };
      const grads = tf.grads(f)(slices);
      let total = tf.scalar(0);
      params.forEach((p, i) => {
        if (p.name.endsWith('.w')) total = tf.add(total, tf.sum(tf.abs(tf.mul(byName.get(p.name)!, grads[i]!))));
      });
      return total.dataSync()[0]!;
    });
  }

  dispose(): void {
    this.net.dispose();
    this.x.dispose();
    this.y.dispose();
  }
}
