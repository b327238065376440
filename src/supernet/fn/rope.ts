/**
 * 2-D axial rotary position embedding on q or k [B, T, heads·d] (T = cls + gridH·gridW; the
 * patch tokens in row-major grid order after `cls` leading class tokens, which are not rotated).
 *
 * Convention, per head (d divisible by 4), patch token p at row y = ⌊p/gridW⌋, column x = p mod gridW:
 *  - channels 0 … d/2−1 are rotated by y, channels d/2 … d−1 by x;
 *  - within each half, channel pairs (2i, 2i+1), i < d/4, turn by the angle pos·θ_i with
 *    θ_i = 10000^(−2i/(d/2));
 *  - a pair (a, b) turned by φ becomes (a·cos φ − b·sin φ, a·sin φ + b·cos φ).
 * Written as x·cos + rotate_half(x)·sin with rotate_half(a, b) = (−b, a) from slices and a concat,
 * and constant cos/sin tables, so the backward is the inverse rotation (autodiff of those ops).
 * Vision X-formers' code applies a 1-D RoPE over the flat token index and rotates the class
 * token too; this is the 2-D axial form of the issue (DESIGN §6).
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../../errors.js';
import { constant } from './common.js';

/** The angle table [T, heads·d]: both channels of a pair carry the pair's angle. */
export function ropeAngles(heads: number, d: number, gridH: number, gridW: number, cls: number): Float64Array {
  const width = heads * d;
  const t = cls + gridH * gridW;
  const half = d / 2;
  const angles = new Float64Array(t * width);
  for (let p = 0; p < gridH * gridW; p++) {
    const pos = [Math.floor(p / gridW), p % gridW];
    for (let h = 0; h < heads; h++)
      for (let c = 0; c < d; c++) {
        const part = c < half ? 0 : 1;
        const i = ((c % half) >> 1);
        angles[(cls + p) * width + h * d + c] = pos[part]! * 10000 ** ((-2 * i) / half);
      }
  }
  return angles;
}

/** (a, b) pairs → (−b, a), on [B, T, I]. */
function rotateHalf(x: tf.Tensor3D): tf.Tensor3D {
  const [b, t, i] = x.shape;
  const pairs = tf.reshape(x, [b, t, i / 2, 2]);
  const first = tf.slice(pairs, [0, 0, 0, 0], [b, t, i / 2, 1]);
  const second = tf.slice(pairs, [0, 0, 0, 1], [b, t, i / 2, 1]);
  return tf.reshape(tf.concat([tf.neg(second), first], 3), [b, t, i]);
}

/** x [B, T, heads·d] → the same with the 2-D axial rotation applied per head (class tokens unchanged). */
export function rope2d(x: tf.Tensor3D, heads: number, gridH: number, gridW: number, cls: number): tf.Tensor3D {
  if (x.rank !== 3) throw new VitasError(`rope2d: x must be [batch, tokens, heads·d], got [${x.shape.join(', ')}]`);
  const [, t, width] = x.shape;
  if (cls !== 0 && cls !== 1) throw new VitasError(`rope2d: cls must be 0 or 1, got ${cls}`);
  if (!Number.isInteger(heads) || heads < 1 || width % heads !== 0 || (width / heads) % 4 !== 0)
    throw new VitasError(`rope2d: the head dim (width ${width} / heads ${heads}) must be a whole multiple of 4`);
  if (t !== cls + gridH * gridW) throw new VitasError(`rope2d: x has ${t} tokens, the grid ${gridH}×${gridW} plus ${cls} class token(s) make ${cls + gridH * gridW}`);
  const d = width / heads;
  const key = `rope:${heads}:${d}:${gridH}:${gridW}:${cls}`;
  const table = (f: (a: number) => number) => (): tf.Tensor2D => tf.tensor2d(Float32Array.from(ropeAngles(heads, d, gridH, gridW, cls), f), [t, width]);
  const cos = constant(`${key}:cos`, table(Math.cos));
  const sin = constant(`${key}:sin`, table(Math.sin));
  return tf.tidy(() => tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin)));
}
