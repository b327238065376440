/**
 * Performer (FAVOR+) attention as the Vision X-formers code has it (pranavphoenix/VisionXformer
 * `vision_performer.py`, from lucidrains' performer-pytorch): positive orthogonal random
 * features, linear in the token count.
 *
 * φ(x) = m^{-1/2}·(exp(ωᵀx' − ‖x'‖²/2 − c) + ε), x' = d^{-1/4}·x, ε = 1e-4. The stabiliser c is
 * the reference's: for queries the max of ωᵀx' over the m features of the same row, for keys the
 * max over everything (all batch items, heads, tokens and features); not detached, as there.
 * It cancels in D⁻¹ up to ε. The reference puts ε in φ, not in D (D = φ(Q)·Σφ(K) > 0 then).
 * out = D⁻¹·φ(Q)·(φ(K)ᵀV), D = diag(φ(Q)·φ(K)ᵀ1), per head.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../space/rng.js';
import { VitasError } from '../../errors.js';
import { checkQkv, checkShape, mergeHeads, splitHeads } from './common.js';

/** The reference's ε inside the features. */
export const PERFORMER_EPS = 1e-4;

/** Orthonormal rows from a d×d Gaussian block: Gram–Schmidt (twice, for float rounding) on its columns, returned as rows (the reference's qᵀ). */
function orthogonalBlock(d: number, rng: Rng): Float64Array[] {
  const g = Array.from({ length: d }, () => Float64Array.from({ length: d }, () => rng.normal())); // row-major G
  const cols: Float64Array[] = [];
  for (let j = 0; j < d; j++) {
    const c = Float64Array.from({ length: d }, (_, i) => g[i]![j]!);
    for (let pass = 0; pass < 2; pass++) {
      for (const u of cols) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += u[i]! * c[i]!;
        for (let i = 0; i < d; i++) c[i]! -= dot * u[i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < d; i++) norm += c[i]! * c[i]!;
    norm = Math.sqrt(norm);
    for (let i = 0; i < d; i++) c[i]! /= norm;
    cols.push(c);
  }
  return cols;
}

/**
 * FAVOR+ projection Ω, m×d row-major: ⌈m/d⌉ blocks of d orthonormal rows (each the Q of a QR of
 * a fresh Gaussian d×d; the last block cut to the rows left), then every row scaled by the norm
 * of a row of a fresh Gaussian m×d matrix (the reference's `scaling = 0`). Q's columns come with
 * R's diagonal positive (Haar-uniform), where LAPACK's QR leaves signs to its Householder steps.
 */
export function orthogonalFeatures(m: number, d: number, rng: Rng): Float32Array {
  if (!Number.isInteger(m) || m < 1 || !Number.isInteger(d) || d < 1) throw new VitasError(`orthogonalFeatures: m and d must be positive integers, got m=${m}, d=${d}`);
  const rows: Float64Array[] = [];
  while (rows.length < m) rows.push(...orthogonalBlock(d, rng).slice(0, m - rows.length));
  const out = new Float32Array(m * d);
  for (let r = 0; r < m; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) {
      const z = rng.normal();
      s += z * z;
    }
    const scale = Math.sqrt(s);
    for (let i = 0; i < d; i++) out[r * d + i] = scale * rows[r]![i]!;
  }
  return out;
}

/**
 * φ of rows x [R, d] → [R, m], with a hand-written backward: autodiff keeps ~10 [R, m] tensors
 * and takes the max's gradient through a broadcast Equal (~100 ns per element on wasm). Saves
 * x', φ and the argmax; the stabiliser's gradient (the reference does not detach it) goes to
 * the ω row of the argmax: d x' += dc·ω_argmax.
 */
function features(x: tf.Tensor2D, omega: tf.Tensor2D, isQuery: boolean): tf.Tensor2D {
  const [rows, d] = x.shape;
  const m = omega.shape[0];
  const c = d ** -0.25, r = m ** -0.5;
  const op = tf.customGrad(((xin: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const xs = tf.mul(xin, c) as tf.Tensor2D;
    const dash = tf.matMul(xs, tf.transpose(omega)); // [R, m], one plain 2-D product
    const half = tf.mul(tf.sum(tf.mul(xs, xs), 1, true), 0.5);
    const stab = isQuery ? tf.max(dash, 1, true) : tf.max(dash);
    const at = isQuery ? tf.argMax(dash, 1) : tf.argMax(tf.reshape(dash, [-1]));
    // r·exp(z) = exp(z + ln r): the ratio rides in the shift, one pass fewer
    const phi = tf.add(tf.exp(tf.sub(dash, tf.sub(tf.add(half, stab), Math.log(r)))), r * PERFORMER_EPS);
    save([xs, phi, at]);
    return {
      value: phi,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [xsv, phiv, atv] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor];
        const g = tf.mul(dy, tf.sub(phiv, r * PERFORMER_EPS)); // dL/dz
        const gsum = tf.sum(g, 1, true);
        // z = ωᵀx' − ‖x'‖²/2 − c: dx' = g·Ω − (Σg)·x' + dc·ω_argmax, dc = −Σ g over the max's group
        let dxs = tf.sub(tf.matMul(g, omega), tf.mul(gsum, xsv));
        if (isQuery) dxs = tf.sub(dxs, tf.mul(gsum, tf.gather(omega, atv)));
        else {
          const mi = tf.scalar(m, 'int32');
          const row = tf.reshape(tf.oneHot(tf.floorDiv(atv, mi), rows), [rows, 1]);
          const col = tf.reshape(tf.gather(omega, tf.mod(atv, mi)), [1, d]);
          dxs = tf.sub(dxs, tf.mul(tf.mul(tf.sum(gsum), row), col));
        }
        return [tf.mul(dxs, c)];
      }),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
  return op(x);
}

/**
 * out = φ(Q)(φ(K)ᵀV) / (φ(Q)·φ(K)ᵀ1) per group, fq and fk [G, N, m], v [G, N, d], with a
 * hand-written backward that keeps only the m-sized context and sums and frees its temporaries
 * as it goes (autodiff would hold every intermediate gradient to the end of the backward):
 *   dnum = dO/den, dden = −Σ_d dO·out/den, dφ(Q) = dnum·ctxᵀ + dden·ksum,
 *   dctx = φ(Q)ᵀdnum, dksum = ddenᵀφ(Q), dφ(K) = v·dctxᵀ + dksum, dv = φ(K)·dctx.
 */
const linearAttention = tf.customGrad(((fq: tf.Tensor3D, fk: tf.Tensor3D, v: tf.Tensor3D, save: tf.GradSaveFunc) => {
  const ctx = tf.matMul(fk, v, true, false); // φ(K)ᵀV [G, m, d]
  const ksum = tf.sum(fk, 1, true); // [G, 1, m]
  const den = tf.matMul(fq, ksum, false, true); // φ(Q)·φ(K)ᵀ1 [G, N, 1] (a product, so the MAC count sees it)
  const out = tf.div(tf.matMul(fq, ctx), den) as tf.Tensor3D;
  save([fq, fk, v, ctx, ksum, den, out]);
  return {
    value: out,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [fqs, fks, vs, ctxs, ks, dens, outs] = saved as tf.Tensor3D[];
        const dnum = tf.div(dy, dens!) as tf.Tensor3D;
        const dden = tf.neg(tf.sum(tf.mul(dnum, outs!), 2, true)) as tf.Tensor3D; // [G, N, 1]
        const dfq = tf.add(tf.matMul(dnum, ctxs!, false, true), tf.mul(dden, ks!));
        const dctx = tf.matMul(fqs!, dnum, true, false); // [G, m, d]
        const dks = tf.matMul(dden, fqs!, true, false); // [G, 1, m]
        const dfk = tf.add(tf.matMul(vs!, dctx, false, true), dks);
        return [dfq, dfk, tf.matMul(fks!, dctx)];
      }),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (fq: tf.Tensor3D, fk: tf.Tensor3D, v: tf.Tensor3D) => tf.Tensor3D;

/**
 * Multi-head FAVOR+ attention: q, k, v [B, N, heads·d] and Ω [m, d] (shared by the heads) →
 * [B, N, heads·d]. Differentiable on every backend (tfjs ops only: products, exp, max, sums).
 */
export function performerAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, omega: tf.Tensor2D): tf.Tensor3D {
  const d = checkQkv('performerAttention', q, k, v, heads);
  checkShape('performerAttention', 'omega', omega, [omega.shape[0], d]);
  return tf.tidy(() => {
    const [b, n] = q.shape;
    const m = omega.shape[0];
    const phi = (x: tf.Tensor3D, isQuery: boolean): tf.Tensor3D => tf.reshape(features(tf.reshape(splitHeads(x, heads), [heads * b * n, d]), omega, isQuery), [heads * b, n, m]);
    return mergeHeads(linearAttention(phi(q, true), phi(k, false), splitHeads(v, heads)), heads);
  });
}
