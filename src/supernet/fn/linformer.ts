/**
 * Linformer attention as the Vision X-formers code has it (`vision_linformer.py`, from lucidrains'
 * linformer): keys and values are projected along the sequence by learned E, F [N, k] shared by
 * all heads (the reference shares one matrix for both: pass `e` as `f`), then softmax attention
 * of the N queries over the k projected tokens per head:
 * out_h = softmax(Q_h (EᵀK_h)ᵀ / √d) (FᵀV_h). Its default `one_kv_head` (one d-wide key/value
 * head for all heads) is the caller's to express: k and v holding the same head repeated.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkQkv, checkShape, mergeHeads, splitHeads } from './common.js';
import { attentionCore } from './cross.js';

/** Eᵀ·X per batch item along the sequence: x [B, N, I], e [N, k] → [B, k, I], as one plain 2-D product. */
function projectSequence(x: tf.Tensor3D, e: tf.Tensor2D): tf.Tensor3D {
  const [b, n, inner] = x.shape;
  const k = e.shape[1];
  const tokensMajor = tf.reshape(tf.transpose(x, [1, 0, 2]), [n, b * inner]);
  return tf.transpose(tf.reshape(tf.matMul(tf.transpose(e), tokensMajor), [k, b, inner]), [1, 0, 2]);
}

/** q, k, v [B, N, heads·d], e and f [N, k] → [B, N, heads·d]. */
export function linformerAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, e: tf.Tensor2D, f: tf.Tensor2D): tf.Tensor3D {
  checkQkv('linformerAttention', q, k, v, heads);
  const n = q.shape[1];
  checkShape('linformerAttention', 'e', e, [n, e.shape[1]]);
  checkShape('linformerAttention', 'f', f, [n, e.shape[1]]);
  return tf.tidy(() => {
    const kp = splitHeads(projectSequence(k, e), heads);
    const vp = splitHeads(projectSequence(v, f), heads);
    return mergeHeads(attentionCore(splitHeads(q, heads), kp, vp), heads);
  });
}
