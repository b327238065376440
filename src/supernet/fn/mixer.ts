/**
 * MLP-Mixer token mixing (Vision X-formers' MLPMixer): one MLP over the token axis shared by all
 * channels, N → T → GELU → N, on an already normalised x. Channels become rows of one 2-D
 * product each way (`linear`, whose backward is plain products too).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gelu, linear } from '../ops.js';
import { checkShape } from './common.js';

/** x [B, N, E], w1 [N, T], b1 [T], w2 [T, N], b2 [N] → [B, N, E]. */
export function tokenMixing(x: tf.Tensor3D, w1: tf.Tensor2D, b1: tf.Tensor1D, w2: tf.Tensor2D, b2: tf.Tensor1D): tf.Tensor3D {
  const [b, n, e] = x.shape;
  const t = w1.shape[1];
  checkShape('tokenMixing', 'w1', w1, [n, t]);
  checkShape('tokenMixing', 'b1', b1, [t]);
  checkShape('tokenMixing', 'w2', w2, [t, n]);
  checkShape('tokenMixing', 'b2', b2, [n]);
  return tf.tidy(() => {
    const rows = tf.reshape(tf.transpose(x, [0, 2, 1]), [b * e, n]) as tf.Tensor2D;
    const hidden = gelu(linear(rows, w1, b1)) as tf.Tensor2D;
    return tf.transpose(tf.reshape(linear(hidden, w2, b2), [b, e, n]), [0, 2, 1]);
  });
}
