/**
 * Shared helpers of the operator functions in this folder: head split/merge on the
 * [B, N, heads·d] layout, shape checks with one-line errors, and a cache of constant tensors
 * (DFT matrices, rotary tables) that outlives any tf.tidy.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../../errors.js';

/**
 * [B, N, h·d] → [h·B, N, d], head-major (group g = h·B + b; head h = columns h·d…(h+1)·d).
 * One 3-D transpose of [B·N, h, d]: wasm's rank-4 transpose is ~10× slower per element.
 */
export function splitHeads(t: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [b, n, inner] = t.shape;
  const d = inner / heads;
  return tf.reshape(tf.transpose(tf.reshape(t, [b * n, heads, d]), [1, 0, 2]), [heads * b, n, d]);
}

/** [h·B, N, d] → [B, N, h·d], the inverse of `splitHeads`. */
export function mergeHeads(t: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [g, n, d] = t.shape;
  const b = g / heads;
  return tf.reshape(tf.transpose(tf.reshape(t, [heads, b * n, d]), [1, 0, 2]), [b, n, heads * d]);
}

/** Throws unless `heads` divides the width of q and k, v share q's batch and width, and (when `sameTokens`) its token count. */
export function checkQkv(op: string, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, sameTokens = true): number {
  const [b, n, inner] = q.shape;
  if (!Number.isInteger(heads) || heads < 1 || inner % heads !== 0) throw new VitasError(`${op}: heads must be a positive divisor of the q/k/v width ${inner}, got ${heads}`);
  for (const [name, t] of [['k', k], ['v', v]] as const) {
    if (t.rank !== 3 || t.shape[0] !== b || t.shape[2] !== inner || (sameTokens && t.shape[1] !== n))
      throw new VitasError(`${op}: ${name} must have the shape of q [${q.shape.join(', ')}], got [${t.shape.join(', ')}]`);
  }
  return inner / heads;
}

/** Throws unless `t` has exactly `shape`. */
export function checkShape(op: string, name: string, t: tf.Tensor, shape: number[]): void {
  if (t.rank !== shape.length || t.shape.some((s, i) => s !== shape[i])) throw new VitasError(`${op}: ${name} must have shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
}

const constants = new Map<string, tf.Tensor>();

/**
 * A constant tensor built once per backend and key, kept out of every tf.tidy (callers run
 * inside training steps). `disposeConstants` frees them all.
 */
export function constant<T extends tf.Tensor>(key: string, make: () => T): T {
  const k = `${tf.getBackend()}:${key}`;
  let t = constants.get(k);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.tidy(make));
    constants.set(k, t);
  }
  return t as T;
}

/** Frees the cached constant tensors (they are rebuilt on next use). */
export function disposeConstants(): void {
  for (const t of constants.values()) t.dispose();
  constants.clear();
}
