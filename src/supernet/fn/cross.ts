/**
 * Softmax cross-attention: queries from one token set, keys and values from another (Linformer's
 * projected keys, CaiT's class token over [cls; patches], Dual-ViT's semantic ↔ pixel tokens).
 * out_h = softmax(Q_h K_hᵀ / √d) V_h per head, the query and key sets of any sizes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../../errors.js';
import { checkQkv, mergeHeads, splitHeads } from './common.js';

/**
 * softmax(QKᵀ/√d)V for q [G, nq, d] and k, v [G, nk, d], with a hand-written backward in a tidy
 * (autodiff would hold the softmax's intermediate gradients to the end of the whole backward):
 * dV = AᵀdO, dS = A⊙(dA − Σ_j dA⊙A)/√d with dA = dO·Vᵀ, dQ = dS·K, dK = dSᵀQ.
 */
export const attentionCore = tf.customGrad(((q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, save: tf.GradSaveFunc) => {
  const scale = 1 / Math.sqrt(q.shape[2]);
  const a = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale)) as tf.Tensor3D;
  save([q, k, v, a]);
  return {
    value: tf.matMul(a, v),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [qs, ks, vs, as] = saved as tf.Tensor3D[];
        const dO = dy as tf.Tensor3D;
        const dA = tf.matMul(dO, vs!, false, true);
        const dS = tf.mul(tf.mul(as!, tf.sub(dA, tf.sum(tf.mul(dA, as!), -1, true))), scale) as tf.Tensor3D;
        return [tf.matMul(dS, ks!), tf.matMul(dS, qs!, true, false), tf.matMul(as!, dO, true, false)];
      }),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D) => tf.Tensor3D;

/** Multi-head cross-attention: q [B, nq, heads·d], k and v [B, nk, heads·d] → [B, nq, heads·d]. */
export function crossAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number): tf.Tensor3D {
  checkQkv('crossAttention', q, k, v, heads, false);
  if (k.shape[1] !== v.shape[1]) throw new VitasError(`crossAttention: k and v must hold the same tokens, got ${k.shape[1]} and ${v.shape[1]}`);
  return tf.tidy(() => mergeHeads(attentionCore(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads)), heads));
}
