/**
 * UFO-ViT cross-normalised attention (the most-copied implementation, External-Attention-pytorch
 * `UFOAttention.py`), linear in the token count: per head KV = KᵀV [d, d], then
 * out = XNorm(Q)·XNorm(KV) with XNorm(x) = γ_h·x/‖x‖ over the last axis — the same learnable γ
 * per head on both, as there. ‖x‖ is taken as √(Σx² + ε²), so ‖0‖ = ε stays finite (and its
 * gradient too); the reference divides by the plain norm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkQkv, checkShape, mergeHeads, splitHeads } from './common.js';

/** γ·x/‖x‖ over the last axis of x [B, h, rows, d], γ [h]. */
function xnorm(x: tf.Tensor4D, gamma: tf.Tensor1D, eps: number): tf.Tensor4D {
  const inv = tf.rsqrt(tf.add(tf.sum(tf.mul(x, x), -1, true), eps * eps));
  return tf.mul(tf.mul(x, inv), tf.reshape(gamma, [1, gamma.shape[0], 1, 1]));
}

/** q, k, v [B, N, heads·d], γ [heads] → [B, N, heads·d]. */
export function xnormAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, gamma: tf.Tensor1D, eps = 1e-6): tf.Tensor3D {
  const d = checkQkv('xnormAttention', q, k, v, heads);
  checkShape('xnormAttention', 'gamma', gamma, [heads]);
  return tf.tidy(() => {
    const [b, n] = q.shape;
    const kv = tf.matMul(splitHeads(k, heads), splitHeads(v, heads), true, false); // [B·h, d, d]
    const qn = xnorm(tf.reshape(splitHeads(q, heads), [b, heads, n, d]), gamma, eps);
    const kvn = xnorm(tf.reshape(kv, [b, heads, d, d]), gamma, eps);
    return mergeHeads(tf.matMul(tf.reshape(qn, [b * heads, n, d]), tf.reshape(kvn, [b * heads, d, d])), heads);
  });
}
