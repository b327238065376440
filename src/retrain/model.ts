/**
 * The standalone network of a spec: exact-size weights, no slicing, the same forward code as the
 * supernet (`vitForward`). Its parameters, their init and decay come from the operator
 * declarations (`paramList`). `extractSubnet` copies a subnet's inherited weights out of a supernet.
 */
import * as tf from '@tensorflow/tfjs-core';
import { paramList, type ParamEntry } from '../space/params.js';
import { validateSpec } from '../space/spec-schema.js';
import type { ArchSpec } from '../space/spec.js';
import { initialValue } from '../supernet/init.js';
import type { Dataset } from '../data/dataset.js';
import { blendInto, BN_MOMENTUM, recalibrate, type LayerStats } from '../supernet/batchnorm.js';
import type { Side, Supernet } from '../supernet/supernet.js';
import { vitForward, type ForwardOptions, type ParamSource } from '../supernet/vit.js';

let instances = 0;

export class StandaloneModel {
  private readonly prefix = `model${instances++}`;
  readonly spec: ArchSpec;
  /** every parameter and buffer, by name (buffers are not trainable: see `trainable`) */
  readonly weights = new Map<string, tf.Variable>();
  private readonly entries = new Map<string, ParamEntry>();

  constructor(spec: ArchSpec, init: Map<string, tf.Tensor> | { seed: number }, where = 'spec') {
    this.spec = validateSpec(spec, where);
    for (const e of paramList(this.spec)) {
      this.entries.set(e.name, e);
      let value: tf.Tensor;
      if (init instanceof Map) {
        const t = init.get(e.name);
        if (!t) throw new Error(`missing weight ${e.name}`);
        if (t.shape.join() !== e.shape.join()) throw new Error(`weight ${e.name} has shape [${t.shape}], the spec needs [${e.shape}]`);
        value = t;
      } else value = initialValue(e.kind.init, e.shape, init.seed, `model/${e.name}`);
      this.weights.set(e.name, tf.variable(value, e.kind.trainable, `${this.prefix}/${e.name}`));
      if (!(init instanceof Map)) value.dispose();
    }
  }

  /** Whether AdamW decays this weight (not biases, norms, tokens, position embeddings, scalars). */
  decays(name: string): boolean {
    return this.entries.get(name)?.kind.decay ?? false;
  }

  /** Whether training updates it (buffers such as Performer's fixed features are not). */
  trainable(name: string): boolean {
    return this.entries.get(name)?.kind.trainable ?? false;
  }

  /** The trainable variables, by name. */
  trainableWeights(): [string, tf.Variable][] {
    return [...this.weights].filter(([n]) => this.trainable(n));
  }

  private source(): ParamSource {
    return {
      get: (name) => {
        const v = this.weights.get(name);
        if (!v) throw new Error(`standalone model has no ${name}`);
        return v;
      },
    };
  }

  /** Logits; pass `opts` (drop-path and its RNG) only when training. */
  forward(images: tf.Tensor4D, opts: ForwardOptions = {}): tf.Tensor2D {
    return vitForward(images, this.spec, this.source(), opts);
  }

  /** Moves the BatchNorm running statistics towards a training step's batch statistics (`log` from a forward with a recorder). */
  updateRunning(log: readonly Pick<LayerStats, 'layer' | 'mean' | 'variance'>[], momentum = BN_MOMENTUM): void {
    for (const e of log) {
      blendInto(this.weights.get(`${e.layer}.mean`)!, 0, e.mean, momentum);
      blendInto(this.weights.get(`${e.layer}.var`)!, 0, e.variance, momentum);
    }
  }

  /** Trainable parameters (what the cost model counts). */
  paramCount(): number {
    let n = 0;
    for (const [name, v] of this.weights) if (this.trainable(name)) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
  }
}

/** A fresh network of exactly the spec's shapes (declared inits: trunc-normal 0.02 weights, zero biases, unit norms …). */
export function buildModel(spec: ArchSpec, seed = 0): StandaloneModel {
  return new StandaloneModel(spec, { seed });
}

/**
 * The subnet `spec` as a standalone model holding copies of its inherited supernet weights, the
 * supernet's buffers and its BatchNorm running statistics — recalibrated first on `calibration`
 * (a sample of training images, see `calibrationImages`) where the spec has BatchNorm layers.
 */
export function extractSubnet(supernet: Supernet, spec: ArchSpec, side: Side = 'left', calibration?: Dataset): StandaloneModel {
  if (calibration) recalibrate(supernet, spec, calibration, { slicing: side === 'left' ? 'left' : 'two-sided' });
  const copies = new Map<string, tf.Tensor>();
  for (const e of paramList(spec)) {
    if (!e.kind.trainable && !e.kind.running) {
      copies.set(e.name, tf.clone(supernet.buffer(e)));
      continue;
    }
    const { param, region } = supernet.resolve(e, spec, side);
    copies.set(e.name, tf.slice(param.v, region.begin, region.size));
  }
  const model = new StandaloneModel(spec, copies);
  for (const t of copies.values()) t.dispose();
  return model;
}
