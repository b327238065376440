/**
 * Differentiable building blocks with hand-written gradients, shaped for the wasm backend
 * (DESIGN §2): XNNPACK is used only by plain 2-D matMuls without transpose flags, so the linear
 * backward transposes explicitly and multiplies plainly. LayerNorm, GELU and attention each have
 * a form in tfjs ops (any backend) and, where the SIMD module is linked (wasm), one fused kernel
 * each way (src/backend/simd-kernels.ts); tests hold the two to the same values and gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import '../backend/gradients.js';
import { ATTENTION, ATTENTION_GRAD, fusedKernelsActive, GELU, GELU_GRAD, LAYER_NORM, LAYER_NORM_GRAD } from '../backend/simd-kernels.js';

type T2 = tf.Tensor2D;

/** y = x·W + b for x [rows, in], W [in, out], b [out]. */
export const linear = tf.customGrad(((x: T2, w: T2, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    // the bias rides in the product (XNNPACK adds it in its output loop on wasm) instead of a broadcast Add
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [T2, T2];
      const g = dy as T2;
      return [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g), tf.sum(g, 0)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: T2, w: T2, b: tf.Tensor1D) => T2;

const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * GELU, tanh approximation, analytic backward. Written as x·σ(2z) with z = c(x + 0.044715x³),
 * which equals 0.5x(1 + tanh z) exactly: wasm's Sigmoid is vectorised, its Tanh is ~20× slower.
 */
const geluOps = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const x2 = tf.mul(x, x);
  const s = tf.sigmoid(tf.mul(x, tf.add(tf.mul(x2, 2 * GELU_C * 0.044715), 2 * GELU_C)));
  save([x, x2, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, x2s, ss] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      // d/dx x·σ(2z) = σ + x·2σ(1−σ)·z′, z′ = c(1 + 3·0.044715x²)
      const dz2 = tf.add(tf.mul(x2s, 2 * GELU_C * 3 * 0.044715), 2 * GELU_C);
      const d = tf.add(ss, tf.mul(tf.mul(xs, tf.mul(ss, tf.sub(1, ss))), dz2));
      return [tf.mul(dy, d)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;

/** GELU in one kernel each way (wasm: src/backend/simd-kernels.ts); saves only x for the backward. */
const geluFused = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: tf.engine().runKernel(GELU, { x }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.engine().runKernel(GELU_GRAD, { x: saved[0]!, dy }) as tf.Tensor],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;

/** GELU (tanh form): fused where the backend has the kernels. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return fusedKernelsActive() ? geluFused(x) : geluOps(x);
}

/** The element-wise form, for tests that compare the two. */
export { geluOps };

export const LN_EPS = 1e-6;

/** LayerNorm over the last axis of x [rows, dim], analytic backward, in element-wise tfjs ops. */
const layerNormOps = tf.customGrad(((x: T2, gamma: tf.Tensor1D, beta: tf.Tensor1D, save: tf.GradSaveFunc) => {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.mul(centred, centred), -1, true);
  const rstd = tf.rsqrt(tf.add(variance, LN_EPS));
  const xhat = tf.mul(centred, rstd);
  save([xhat, rstd, gamma]);
  return {
    value: tf.add(tf.mul(xhat, gamma), beta),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xh, rs, g] = saved as [T2, tf.Tensor, tf.Tensor1D];
      const dxhat = tf.mul(dy, g);
      const dx = tf.mul(rs, tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(xh, tf.mean(tf.mul(dxhat, xh), -1, true))));
      return [dx, tf.sum(tf.mul(dy, xh), 0), tf.sum(dy, 0)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: T2, gamma: tf.Tensor1D, beta: tf.Tensor1D) => T2;

/** The same maths as `layerNormOps` in one kernel each way (wasm: src/backend/simd-kernels.ts). */
const layerNormFused = tf.customGrad(((x: T2, gamma: tf.Tensor1D, beta: tf.Tensor1D, save: tf.GradSaveFunc) => {
  const [y, xhat, rstd] = tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { eps: LN_EPS }) as tf.Tensor[];
  save([xhat!, rstd!, gamma]);
  return {
    value: y!,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(LAYER_NORM_GRAD, { dy, xhat: saved[0]!, rstd: saved[1]!, gamma: saved[2]! }) as tf.Tensor[],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: T2, gamma: tf.Tensor1D, beta: tf.Tensor1D) => T2;

/** LayerNorm over the last axis of x [rows, dim]: fused where the backend has the kernels. */
export function layerNorm(x: T2, gamma: tf.Tensor1D, beta: tf.Tensor1D): T2 {
  return fusedKernelsActive() ? layerNormFused(x, gamma, beta) : layerNormOps(x, gamma, beta);
}

/** The element-wise form, for tests that compare the two. */
export { layerNormOps };

/** softmax(QKᵀ·scale)V over [G, n, d] with a hand-written backward of batched products. */
const attentionCore = tf.customGrad(((q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, save: tf.GradSaveFunc) => {
  const scale = 1 / Math.sqrt(q.shape[2]);
  const a = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale)) as tf.Tensor3D;
  save([q, k, v, a]);
  return {
    value: tf.matMul(a, v),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [qs, ks, vs, as] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      const dO = dy as tf.Tensor3D;
      const dV = tf.matMul(as, dO, true, false);
      const dA = tf.matMul(dO, vs, false, true);
      const dS = tf.mul(tf.mul(as, tf.sub(dA, tf.sum(tf.mul(dA, as), -1, true))), scale) as tf.Tensor3D;
      return [tf.matMul(dS, ks), tf.matMul(dS, qs, true, false), dV];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D) => tf.Tensor3D;

/** Multi-head softmax attention in tfjs ops: heads split out to [B·heads, n, d] and merged back. */
function softmaxAttentionOps(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [b, n, inner] = q.shape;
  const d = inner / heads;
  const split = (t: tf.Tensor3D): tf.Tensor3D => tf.reshape(tf.transpose(tf.reshape(t, [b, n, heads, d]), [0, 2, 1, 3]), [b * heads, n, d]);
  const out = attentionCore(split(q), split(k), split(v));
  return tf.reshape(tf.transpose(tf.reshape(out, [b, heads, n, d]), [0, 2, 1, 3]), [b, n, inner]);
}

/**
 * The same attention in one kernel each way, on the [B, n, heads·d] layout (wasm:
 * src/backend/simd-kernels.ts). `inputs` are q, k, v, or one qkv [B, n, 3·heads·d] holding them
 * side by side; the gradient comes back in the same form.
 */
function fusedAttention(inputs: tf.Tensor3D[], heads: number): tf.Tensor3D {
  const names = inputs.length === 1 ? ['qkv'] : ['q', 'k', 'v'];
  const f = tf.customGrad(((...args: unknown[]) => {
    const xs = args.slice(0, -1) as tf.Tensor3D[];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const named = (ts: tf.Tensor[]): tf.NamedTensorMap => Object.fromEntries(names.map((n, i) => [n, ts[i]!]));
    const [out, maps] = tf.engine().runKernel(ATTENTION, named(xs), { heads }) as tf.Tensor[];
    save([...xs, maps!]);
    return {
      value: out!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const grads = tf.engine().runKernel(ATTENTION_GRAD, { ...named(saved), dy, a: saved[saved.length - 1]! }, { heads });
        return Array.isArray(grads) ? grads : [grads];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...xs: tf.Tensor3D[]) => tf.Tensor3D;
  return f(...inputs);
}

/**
 * Attention straight from the fused q/k/v product [B, n, 3·heads·d] (q, k, v side by side), no
 * split and no concat of the gradient; only where `fusedKernelsActive()`.
 */
export function softmaxAttentionQkv(qkv: tf.Tensor3D, heads: number): tf.Tensor3D {
  return fusedAttention([qkv], heads);
}

/**
 * Multi-head softmax attention inside one token group: q, k, v [B, n, heads·d] → [B, n, heads·d].
 * softmax(QKᵀ/√d)V per head; fused where the backend has the kernels.
 */
export function softmaxAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number): tf.Tensor3D {
  return fusedKernelsActive() ? fusedAttention([q, k, v], heads) : softmaxAttentionOps(q, k, v, heads);
}

/** The tfjs-ops form, for tests that compare the two. */
export { softmaxAttentionOps };

/** Cross-entropy with label smoothing, mean over the batch. */
export function smoothedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, classes: number, smoothing: number): tf.Scalar {
  const onehot = tf.oneHot(labels, classes) as tf.Tensor2D;
  return softCrossEntropy(logits, tf.add(tf.mul(onehot, 1 - smoothing), smoothing / classes) as tf.Tensor2D);
}

/** Cross-entropy of `logits` against the distribution `target` (rows summing to 1), mean over the batch. */
export function softCrossEntropy(logits: tf.Tensor2D, target: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), -1))) as tf.Scalar;
}
