/** Forward of `softmax` (declaration: src/space/operators/softmax.ts), with SReT's sliced groups and recursion permutation. */
import * as tf from '@tensorflow/tfjs-core';
import { groupSizes } from '../../space/operators/grouping.js';
import { Rng } from '../../space/rng.js';
import { softmaxAttention } from '../ops.js';
import type { ProjectionMixer } from './mixing.js';

/** Fixed, seeded permutation of the patch tokens for recursive pass `pass` of block `block` (class token stays first). */
export function tokenPermutation(patches: number, cls: number, block: number, pass: number): number[] {
  const sigma = new Rng(`vitas-token-permutation:${patches}:${block}:${pass}`).shuffle(Array.from({ length: patches }, (_, i) => i));
  return [...Array.from({ length: cls }, (_, i) => i), ...sigma.map((s) => s + cls)];
}

/**
 * out[:, j] = x[:, perm[j]] along tokens. Forward is a gather; its gradient is the gather by the
 * inverse permutation (the built-in gather gradient needs UnsortedSegmentSum, which wasm lacks).
 */
function permuteTokens(x: tf.Tensor3D, perm: number[], inverse: boolean): tf.Tensor3D {
  const inv = new Array<number>(perm.length);
  perm.forEach((src, j) => (inv[src] = j));
  const fwd = inverse ? inv : perm;
  const back = inverse ? perm : inv;
  // rows of a token-major layout, copied by slices: wasm's GatherV2 is ~100× slower than a slice
  const rows = (t: tf.Tensor, idx: number[]): tf.Tensor => {
    const [b, n, c] = t.shape as [number, number, number];
    const tm = tf.reshape(tf.transpose(t, [1, 0, 2]), [n, b * c]);
    const parts = idx.map((i) => tf.slice(tm, [i, 0], [1, b * c]));
    return tf.transpose(tf.reshape(tf.concat(parts, 0), [n, b, c]), [1, 0, 2]);
  };
  const op = tf.customGrad(((t: tf.Tensor) => ({
    value: rows(t, fwd),
    gradFunc: (dy: tf.Tensor) => [rows(dy, back)],
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor3D;
}

/** Attention within G contiguous token groups (class token in the first); G = 1 is plain attention. */
function groupedAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, patches: number, cls: number, groups: number): tf.Tensor3D {
  if (groups === 1) return softmaxAttention(q, k, v, heads);
  const sizes = groupSizes(patches, groups);
  sizes[0]! += cls;
  const [b, , c] = q.shape;
  const outs: tf.Tensor3D[] = [];
  let start = 0;
  for (const n of sizes) {
    const part = (t: tf.Tensor3D): tf.Tensor3D => tf.slice(t, [0, start, 0], [b, n, c]);
    outs.push(softmaxAttention(part(q), part(k), part(v), heads));
    start += n;
  }
  return tf.concat(outs, 1);
}

export const softmax: ProjectionMixer = {
  projections: true,
  forward(q, k, v, c) {
    // the recursive pass regroups tokens after a fixed permutation (none for G = 1: attention is permutation-equivariant)
    const perm = c.pass > 0 && c.groups > 1 ? tokenPermutation(c.P, c.cls, c.block, c.pass) : undefined;
    if (perm) [q, k, v] = [q, k, v].map((z) => permuteTokens(z, perm, false)) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const o = groupedAttention(q, k, v, c.k.b.heads, c.P, c.cls, c.groups);
    return perm ? permuteTokens(o, perm, true) : o;
  },
};
