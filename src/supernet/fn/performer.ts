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
import { VitasError } from '../../space/errors.js';
import { checkQkv, checkShape, mergeHeads } from './common.js';

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

/** φ of q or k [B, N, h·d] → [B·h, N, m]. */
function features(x: tf.Tensor3D, heads: number, omegaT: tf.Tensor2D, isQuery: boolean): tf.Tensor3D {
  const [b, n, inner] = x.shape;
  const d = inner / heads;
  const m = omegaT.shape[1];
  // rows (b, n, h) of x'; the projection is one plain 2-D product
  const xs = tf.mul(tf.reshape(x, [b * n * heads, d]), d ** -0.25);
  const dash = tf.matMul(xs, omegaT); // [B·N·h, m]
  const half = tf.mul(tf.sum(tf.mul(xs, xs), 1, true), 0.5);
  const stab = isQuery ? tf.max(dash, 1, true) : tf.max(dash);
  const phi = tf.mul(tf.add(tf.exp(tf.sub(tf.sub(dash, half), stab)), PERFORMER_EPS), m ** -0.5);
  return tf.reshape(tf.transpose(tf.reshape(phi, [b, n, heads, m]), [0, 2, 1, 3]), [b * heads, n, m]);
}

/**
 * Multi-head FAVOR+ attention: q, k, v [B, N, heads·d] and Ω [m, d] (shared by the heads) →
 * [B, N, heads·d]. Differentiable on every backend (tfjs ops only: products, exp, max, sums).
 */
export function performerAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, omega: tf.Tensor2D): tf.Tensor3D {
  const d = checkQkv('performerAttention', q, k, v, heads);
  checkShape('performerAttention', 'omega', omega, [omega.shape[0], d]);
  return tf.tidy(() => {
    const [b, n] = q.shape;
    const omegaT = tf.transpose(omega);
    const fq = features(q, heads, omegaT, true);
    const fk = features(k, heads, omegaT, false);
    const vh = tf.reshape(tf.transpose(tf.reshape(v, [b, n, heads, d]), [0, 2, 1, 3]), [b * heads, n, d]);
    const context = tf.matMul(fk, vh, true, false); // φ(K)ᵀV [B·h, m, d]
    const ksum = tf.sum(fk, 1, true); // [B·h, 1, m]
    const den = tf.matMul(fq, ksum, false, true); // φ(Q)·φ(K)ᵀ1 [B·h, N, 1] (a product, so the MAC count sees it)
    return mergeHeads(tf.div(tf.matMul(fq, context), den) as tf.Tensor3D, heads);
  });
}
