/** Forward of `linformer` (declaration: src/space/operators/linformer.ts): one E projects both K and V, as the reference. */
import type * as tf from '@tensorflow/tfjs-core';
import { linformerAttention } from '../fn/linformer.js';
import type { ProjectionMixer } from './mixing.js';

export const linformer: ProjectionMixer = {
  projections: true,
  forward(q, k, v, c) {
    const e = c.ps.get(`${c.k.prefix}.linformer.e`) as tf.Tensor2D;
    return linformerAttention(q, k, v, c.k.b.heads, e, e);
  },
};
