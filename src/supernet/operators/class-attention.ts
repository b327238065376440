/**
 * Forward of one class-attention layer (declaration: src/space/operators/class-attention.ts), as
 * timm's `LayerScaleBlockClassAttn` without LayerScale: u = LN₁([cls; patches]); the class token's
 * q attends over k, v of all of u; cls += proj(attention); cls += MLP(LN₂(cls)). Patches unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ClassBlock } from '../../space/spec.js';
import { crossAttention } from '../fn/cross.js';
import { gelu, layerNorm, linear } from '../ops.js';
import { normOf, weightOf, type ParamSource } from './source.js';

/** The class token [B, E] after the layer `prefix`, over the patch tokens [B, P, E]. */
export function classAttentionLayer(cls: tf.Tensor2D, patches: tf.Tensor3D, cb: ClassBlock, prefix: string, ps: ParamSource): tf.Tensor2D {
  const [b, p, e] = patches.shape;
  const inner = cb.qkv / 3;
  const n1 = normOf(ps, `${prefix}.norm1`);
  const u = layerNorm(tf.reshape(tf.concat([tf.reshape(cls, [b, 1, e]), patches], 1), [b * (p + 1), e]) as tf.Tensor2D, n1.gamma, n1.beta);
  const [q, k, v, proj] = (['q', 'k', 'v', 'proj'] as const).map((n) => weightOf(ps, `${prefix}.attn.${n}`));
  const uc = tf.reshape(tf.slice(tf.reshape(u, [b, p + 1, e]), [0, 0, 0], [b, 1, e]), [b, e]) as tf.Tensor2D;
  const qc = tf.reshape(linear(uc, q!.w, q!.b), [b, 1, inner]);
  const [kk, vv] = tf.split(linear(u, tf.concat([k!.w, v!.w], 1), tf.concat([k!.b, v!.b], 0)), 2, 1).map((t) => tf.reshape(t, [b, p + 1, inner]) as tf.Tensor3D);
  const attended = tf.reshape(crossAttention(qc as tf.Tensor3D, kk!, vv!, cb.heads), [b, inner]) as tf.Tensor2D;
  const x = tf.add(cls, linear(attended, proj!.w, proj!.b)) as tf.Tensor2D;
  const n2 = normOf(ps, `${prefix}.norm2`);
  const f1 = weightOf(ps, `${prefix}.mlp.fc1`);
  const f2 = weightOf(ps, `${prefix}.mlp.fc2`);
  return tf.add(x, linear(gelu(linear(layerNorm(x, n2.gamma, n2.beta), f1.w, f1.b)) as tf.Tensor2D, f2.w, f2.b));
}
