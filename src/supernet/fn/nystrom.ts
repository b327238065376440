/**
 * Nyström attention as the Vision X-formers code has it (`vision_nystromformer.py`, lucidrains'
 * nystrom-attention, after mlpen/Nystromformer), without masks:
 *  - the sequence is zero-padded in front to a multiple of m landmarks (the reference pads x
 *    before its bias-free q/k/v projection, so its padded q, k, v are zero as here);
 *  - q is scaled by d^{-1/2}; the landmarks are the means of m contiguous segments of q and k;
 *  - softmax kernels A₁ = softmax(QK̃ᵀ), A₂ = softmax(Q̃K̃ᵀ), A₃ = softmax(Q̃Kᵀ) (the padded keys
 *    take part in A₃, as in the reference);
 *  - A₂⁺ by the iterative Moore–Penrose pseudo-inverse: Z₀ = A₂ᵀ/(max row-sum · max col-sum of
 *    |A₂|), the maxima over the whole batch and all heads as in the reference; then
 *    Z ← ¼Z(13I − A₂Z(15I − A₂Z(7I − A₂Z)));
 *  - out = (A₁A₂⁺)(A₃V), plus optionally the depthwise conv along the sequence on V (the
 *    reference's residual, kernel 33), then the padding is stripped.
 * Differentiable on every backend (products, softmax, slices, pads; the conv has its own backward).
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../../errors.js';
import { checkQkv, mergeHeads, splitHeads } from './common.js';
import { sequenceDepthwiseConv } from './seqconv.js';

export interface NystromOptions {
  /** pseudo-inverse iterations (reference: 6) */
  iters?: number;
  /** depthwise kernel [heads, K] along the sequence on V, added to the output (reference: K = 33) */
  conv?: tf.Tensor2D;
}

/** One step Z ← ¼Z(13I − P(15I − P(7I − P))), P = AZ, and its parts. */
function pinvStep(a: tf.Tensor3D, z: tf.Tensor3D, eye: tf.Tensor2D): { p: tf.Tensor3D; u: tf.Tensor3D; v: tf.Tensor3D; w: tf.Tensor3D; next: tf.Tensor3D } {
  const p = tf.matMul(a, z) as tf.Tensor3D;
  const u = tf.sub(tf.mul(eye, 7), p) as tf.Tensor3D;
  const v = tf.sub(tf.mul(eye, 15), tf.matMul(p, u)) as tf.Tensor3D;
  const w = tf.sub(tf.mul(eye, 13), tf.matMul(p, v)) as tf.Tensor3D;
  return { p, u, v, w, next: tf.mul(tf.matMul(z, w), 0.25) as tf.Tensor3D };
}

/**
 * The iterations from Z₀, with a hand-written backward that saves only the iterates and
 * recomputes each step's parts in a tidy (autodiff would hold ~20 m×m gradients per step to the
 * end of the backward). Per step, from dZ′: dZ = ¼dZ′Wᵀ, dW = ¼ZᵀdZ′, dP = −dW·Vᵀ − dV·Uᵀ − dU
 * with dV = −PᵀdW, dU = −PᵀdV; then dA += dP·Zᵀ, dZ += AᵀdP.
 */
function pinvIterations(a: tf.Tensor3D, z0: tf.Tensor3D, iters: number): tf.Tensor3D {
  if (iters === 0) return z0;
  const eye = (): tf.Tensor2D => tf.eye(a.shape[1]);
  const op = tf.customGrad(((av: tf.Tensor3D, zv: tf.Tensor3D, save: tf.GradSaveFunc) => {
    const e = eye();
    const zs = [zv];
    for (let i = 0; i < iters; i++) zs.push(pinvStep(av, zs[i]!, e).next);
    save([av, ...zs.slice(0, -1)]);
    return {
      value: zs[iters]!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [as, ...iterates] = saved as tf.Tensor3D[];
        const e2 = eye();
        let dz = dy as tf.Tensor3D;
        let da: tf.Tensor3D | undefined;
        for (let i = iters - 1; i >= 0; i--) {
          const [nextDz, nextDa] = tf.tidy(() => {
            const z = iterates[i]!;
            const { p, u, v, w } = pinvStep(as!, z, e2);
            const dw = tf.mul(tf.matMul(z, dz, true, false), 0.25);
            const dv = tf.neg(tf.matMul(p, dw, true, false));
            const du = tf.neg(tf.matMul(p, dv, true, false));
            const dp = tf.neg(tf.add(tf.add(tf.matMul(dw, v, false, true), tf.matMul(dv, u, false, true)), du));
            const dzPrev = tf.add(tf.mul(tf.matMul(dz, w, false, true), 0.25), tf.matMul(as!, dp, true, false)) as tf.Tensor3D;
            const daStep = tf.matMul(dp, z, false, true);
            return [dzPrev, (da ? tf.add(da, daStep) : daStep) as tf.Tensor3D];
          });
          if (dz !== dy) dz.dispose();
          da?.dispose();
          dz = nextDz;
          da = nextDa;
        }
        return [da!, dz];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor3D, z: tf.Tensor3D) => tf.Tensor3D;
  return op(a, z0);
}

/** Z ≈ A⁺ for a [G, m, m] by the reference's iteration. */
export function iterativePinv(a: tf.Tensor3D, iters: number): tf.Tensor3D {
  const abs = tf.abs(a);
  const scale = tf.mul(tf.max(tf.sum(abs, -1)), tf.max(tf.sum(abs, -2)));
  return pinvIterations(a, tf.div(tf.transpose(a, [0, 2, 1]), scale) as tf.Tensor3D, iters);
}

/** Segment means: [G, m·l, d] → [G, m, d]. */
function landmarks(x: tf.Tensor3D, m: number): tf.Tensor3D {
  const [g, n, d] = x.shape;
  return tf.mean(tf.reshape(x, [g, m, n / m, d]), 2);
}

/** q, k, v [B, N, heads·d] → [B, N, heads·d] with `m` landmarks. */
export function nystromAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, m: number, opts: NystromOptions = {}): tf.Tensor3D {
  const d = checkQkv('nystromAttention', q, k, v, heads);
  if (!Number.isInteger(m) || m < 1) throw new VitasError(`nystromAttention: landmarks must be a positive integer, got ${m}`);
  const iters = opts.iters ?? 6;
  if (!Number.isInteger(iters) || iters < 0) throw new VitasError(`nystromAttention: iters must be a non-negative integer, got ${iters}`);
  if (opts.conv && (opts.conv.rank !== 2 || opts.conv.shape[0] !== heads)) throw new VitasError(`nystromAttention: conv must be [heads=${heads}, kernel], got [${opts.conv.shape.join(', ')}]`);
  return tf.tidy(() => {
    const [b, n, inner] = q.shape;
    const pad = (m - (n % m)) % m;
    const front = (t: tf.Tensor3D): tf.Tensor3D => (pad ? tf.pad(t, [[0, 0], [pad, 0], [0, 0]]) : t);
    const qp = front(q), kp = front(k), vp = front(v);
    const qh = tf.mul(splitHeads(qp, heads), 1 / Math.sqrt(d)) as tf.Tensor3D;
    const kh = splitHeads(kp, heads);
    const ql = landmarks(qh, m), kl = landmarks(kh, m);
    const a1 = tf.softmax(tf.matMul(qh, kl, false, true)) as tf.Tensor3D;
    const a2 = tf.softmax(tf.matMul(ql, kl, false, true)) as tf.Tensor3D;
    const a3 = tf.softmax(tf.matMul(ql, kh, false, true)) as tf.Tensor3D;
    let out = mergeHeads(tf.matMul(tf.matMul(a1, iterativePinv(a2, iters)), tf.matMul(a3, splitHeads(vp, heads))), heads);
    if (opts.conv) out = tf.add(out, sequenceDepthwiseConv(vp, opts.conv));
    return pad ? tf.slice(out, [0, pad, 0], [b, n, inner]) : out;
  });
}
