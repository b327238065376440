/** Forward of `xnorm` (declaration: src/space/operators/xnorm.ts). */
import type * as tf from '@tensorflow/tfjs-core';
import { xnormAttention } from '../fn/xnorm.js';
import type { ProjectionMixer } from './mixing.js';

export const xnorm: ProjectionMixer = {
  projections: true,
  forward: (q, k, v, c) => xnormAttention(q, k, v, c.k.b.heads, c.ps.get(`${c.k.prefix}.xnorm.gamma`) as tf.Tensor1D),
};
