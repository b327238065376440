/**
 * Training-free proxy: synaptic saliency (SNIP; Lee et al. 2019, one of the zero-cost proxies of
 * Abdelfattah et al. 2021) at initialisation, Σ |W ⊙ ∂L/∂W| over every weight matrix, for a
 * seeded random batch with random labels. It is the MLP term of TF-TAS's DSS indicator applied to
 * all layers (DssEvaluator, dss.ts, is the whole indicator).
 * Needs no trained weights and no dataset: weights are slices of one randomly initialised supernet.
 * BatchNorm layers normalise by the batch's statistics (an untrained network has no running ones).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ArchSpec } from '../space/spec.js';
import type { SearchSpace } from '../space/space.js';
import { smoothedCrossEntropy } from '../supernet/ops.js';
import { Supernet } from '../supernet/supernet.js';
import { tensorSeed } from '../space/rng.js';
import { scoreOnce, type Evaluator } from './evaluator.js';
import { subnetGradients } from './gradients.js';

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
    return scoreOnce(this.cache, specs, (s) => this.score(s));
  }

  score(spec: ArchSpec): number {
    return tf.tidy(() => {
      const { params, weights, grads } = subnetGradients(this.net, spec, this.x, (logits) => smoothedCrossEntropy(logits, this.y, spec.classes, 0));
      let total = tf.scalar(0);
      params.forEach((p, i) => {
        if (p.name.endsWith('.w')) total = tf.add(total, tf.sum(tf.abs(tf.mul(weights[i]!, grads[i]!))));
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
