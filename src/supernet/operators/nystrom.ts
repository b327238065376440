/** Forward of `nystrom` (declaration: src/space/operators/nystrom.ts). */
import type * as tf from '@tensorflow/tfjs-core';
import { NYSTROM_ITERS } from '../../space/operators/nystrom.js';
import { nystromAttention } from '../fn/nystrom.js';
import type { ProjectionMixer } from './mixing.js';

export const nystrom: ProjectionMixer = {
  projections: true,
  forward: (q, k, v, c) =>
    nystromAttention(q, k, v, c.k.b.heads, c.k.b.features!, { iters: NYSTROM_ITERS, ...(c.k.b.conv ? { conv: c.ps.get(`${c.k.prefix}.nystrom.conv`) as tf.Tensor2D } : {}) }),
};
