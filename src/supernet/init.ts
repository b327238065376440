/** Initial values of declared parameters (src/space/operators/decl.ts `Init`), seeded by name. */
import * as tf from '@tensorflow/tfjs-core';
import type { Init } from '../space/operators/decl.js';
import { Rng, tensorSeed } from '../space/rng.js';
import { orthogonalFeatures } from './fn/performer.js';

/**
 * A fresh tensor for a parameter: `normal` trunc-normal std 0.02, `seq` normal std 1/√rows,
 * `zeros`, `ones`; `features`: FAVOR+ orthogonal random features [m, d]. The seed is derived from
 * the run seed and the parameter's name, so adding a parameter never changes the others' values.
 */
export function initialValue(init: Init, shape: number[], seed: number, name: string): tf.Tensor {
  switch (init) {
    case 'zeros':
      return tf.zeros(shape);
    case 'ones':
      return tf.ones(shape);
    case 'normal':
      return tf.truncatedNormal(shape, 0, 0.02, 'float32', tensorSeed(seed, name));
    case 'seq':
      return tf.truncatedNormal(shape, 0, 1 / Math.sqrt(shape[0]!), 'float32', tensorSeed(seed, name));
    case 'features':
      return tf.tensor2d(orthogonalFeatures(shape[0]!, shape[1]!, new Rng(tensorSeed(seed, name))), [shape[0]!, shape[1]!]);
  }
}
