/**
 * The standalone network of a spec: exact-size weights, no slicing, the same forward code as the
 * supernet (`vitForward`). `extractSubnet` copies a subnet's inherited weights out of a supernet.
 */
import * as tf from '@tensorflow/tfjs-core';
import { validateSpec } from '../space/spec-schema.js';
import type { ArchSpec } from '../space/spec.js';
import type { Side, Supernet } from '../supernet/supernet.js';
import { assertRunnable, paramList, vitForward, type ForwardOptions, type ParamSource } from '../supernet/vit.js';

const NO_DECAY = /(\.b|\.gamma|\.beta|\.alpha|^cls|^pos)$/;

/** Unit norm scales and residual scalars (SReT α, β), zero biases, trunc-normal 0.02 for the rest. */
function initialValue(name: string, shape: number[], seed: number): tf.Tensor {
  if (/\.(gamma|alpha)$|\.nll\d+\.beta$/.test(name)) return tf.ones(shape);
  if (/\.(b|beta)$/.test(name)) return tf.zeros(shape);
  return tf.truncatedNormal(shape, 0, 0.02, 'float32', seed);
}

let instances = 0;

export class StandaloneModel {
  private readonly prefix = `model${instances++}`;
  readonly spec: ArchSpec;
  readonly weights = new Map<string, tf.Variable>();

  constructor(spec: ArchSpec, init: Map<string, tf.Tensor> | { seed: number }) {
    this.spec = validateSpec(spec);
    assertRunnable(this.spec);
    let seed = 'seed' in init ? (init as { seed: number }).seed : 0;
    for (const { name, shape } of paramList(this.spec)) {
      let value: tf.Tensor;
      if (init instanceof Map) {
        const t = init.get(name);
        if (!t) throw new Error(`missing weight ${name}`);
        value = t;
      } else value = initialValue(name, shape, seed++);
      this.weights.set(name, tf.variable(value, true, `${this.prefix}/${name}`));
      if (!(init instanceof Map)) value.dispose();
    }
  }

  /** Whether AdamW decays this weight (not biases, norms, tokens, position embeddings, scalars). */
  static decays(name: string): boolean {
    return !NO_DECAY.test(name);
  }

  private source(): ParamSource {
    const get = (name: string, shape: number[]): tf.Tensor => {
      const v = this.weights.get(name);
      if (!v || v.shape.join() !== shape.join()) throw new Error(`standalone model has no ${name} of shape [${shape}]`);
      return v;
    };
    return {
      linear: (name, din, dout) => ({ w: get(`${name}.w`, [din, dout]) as tf.Tensor2D, b: get(`${name}.b`, [dout]) as tf.Tensor1D }),
      norm: (name, dim) => ({ gamma: get(`${name}.gamma`, [dim]) as tf.Tensor1D, beta: get(`${name}.beta`, [dim]) as tf.Tensor1D }),
      tensor: (name, shape) => get(name, shape),
    };
  }

  /** Logits; pass `opts` (drop-path and its RNG) only when training. */
  forward(images: tf.Tensor4D, opts: ForwardOptions = {}): tf.Tensor2D {
    return vitForward(images, this.spec, this.source(), opts);
  }

  paramCount(): number {
    let n = 0;
    for (const v of this.weights.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
  }
}

/** A fresh network of exactly the spec's shapes (trunc-normal 0.02 weights, zero biases, unit norms). */
export function buildModel(spec: ArchSpec, seed = 0): StandaloneModel {
  return new StandaloneModel(spec, { seed });
}

/** The subnet `spec` as a standalone model holding copies of its inherited supernet weights. */
export function extractSubnet(supernet: Supernet, spec: ArchSpec, side: Side = 'left'): StandaloneModel {
  const copies = new Map<string, tf.Tensor>();
  for (const { name, shape } of paramList(spec)) {
    const { param, region } = supernet.resolve(name, shape, spec, side);
    copies.set(name, tf.slice(param.v, region.begin, region.size));
  }
  const model = new StandaloneModel(spec, copies);
  for (const t of copies.values()) t.dispose();
  return model;
}
