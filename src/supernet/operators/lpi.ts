/** Forward of LPI (declaration: src/space/operators/lpi.ts): one pass's branch, added to the tokens by the block. */
import * as tf from '@tensorflow/tfjs-core';
import type { NormMode } from '../fn/batchnorm.js';
import { localPatchInteraction } from '../fn/lpi.js';
import { layerNorm } from '../ops.js';
import type { MixCtx } from './mixing.js';
import { normOf, weightOf } from './source.js';

/** The LPI branch [B·T, E] of tokens x [B·T, E]: LayerNorm and LPI on the patch grid, zero on the class token. */
export function lpiBranch(x: tf.Tensor2D, c: MixCtx, mode: NormMode): tf.Tensor2D {
  const { B, T, E, P, cls, gh, gw, ps } = c;
  const name = `${c.k.prefix}.lpi`;
  const patches = cls ? tf.reshape(tf.slice(tf.reshape(x, [B, T, E]), [0, cls, 0], [B, P, E]), [B * P, E]) : x;
  const ln = normOf(ps, `${name}.norm`);
  const grid = tf.reshape(layerNorm(patches as tf.Tensor2D, ln.gamma, ln.beta), [B, gh, gw, E]) as tf.Tensor4D;
  const bn = `${name}.bn`;
  const out = localPatchInteraction(
    grid,
    {
      conv1: weightOf(ps, `${name}.conv1`),
      conv2: weightOf(ps, `${name}.conv2`),
      bn: normOf(ps, bn),
      running: () => ({ mean: ps.get(`${bn}.mean`) as tf.Tensor1D, variance: ps.get(`${bn}.var`) as tf.Tensor1D }),
    },
    mode,
    bn,
  );
  const branch = tf.reshape(out, [B, P, E]);
  return tf.reshape(cls ? tf.concat([tf.zeros([B, cls, E]), branch], 1) : branch, [B * T, E]) as tf.Tensor2D;
}
