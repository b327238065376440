/** Forward of `performer` (declaration: src/space/operators/performer.ts); Ω is the block's fixed buffer. */
import type * as tf from '@tensorflow/tfjs-core';
import { performerAttention } from '../fn/performer.js';
import type { ProjectionMixer } from './mixing.js';

export const performer: ProjectionMixer = {
  projections: true,
  forward: (q, k, v, c) => performerAttention(q, k, v, c.k.b.heads, c.ps.get(`${c.k.prefix}.performer.omega`) as tf.Tensor2D),
};
