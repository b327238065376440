/**
 * Dual-ViT's dual pathway (YehLi/ImageNetModel `classification/dualvit.py`) as functions of their
 * weights: the semantic tokens' formation (stage 1 of `DualViT.forward_sep`: pooled grid, learned
 * queries, the gate) and one dual block's token mixing (`DualAttention`). Every product is a 2-D
 * matMul (`linear`, the pool) or an attention with a hand-written backward, so all of it trains on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../../errors.js';
import { layerNorm, linear, softmaxAttention } from '../ops.js';
import { checkShape, constant } from './common.js';
import { crossAttention } from './cross.js';

export interface Linear {
  w: tf.Tensor2D;
  b: tf.Tensor1D;
}

export interface Norm {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

/** PyTorch's adaptive-average-pool bins of `n` cells into `s`: [floor(i·n/s), ceil((i+1)·n/s)). */
function bins(n: number, s: number): [number, number][] {
  return Array.from({ length: s }, (_, i) => [Math.floor((i * n) / s), Math.ceil(((i + 1) * n) / s)]);
}

/** The averaging matrix [s·s, gh·gw] of an adaptive average pool of a gh×gw grid (row-major) to s×s cells. */
export function poolMatrix(gh: number, gw: number, s: number): Float32Array {
  const out = new Float32Array(s * s * gh * gw);
  const rows = bins(gh, s), cols = bins(gw, s);
  rows.forEach(([r0, r1], a) =>
    cols.forEach(([c0, c1], b) => {
      const w = 1 / ((r1 - r0) * (c1 - c0));
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[(a * s + b) * gh * gw + r * gw + c] = w;
    }),
  );
  return out;
}

/** Patch tokens x [B, gh·gw, E] average-pooled to [B, s·s, E]: one product of the averaging matrix with the tokens-major x. */
export function poolGrid(x: tf.Tensor3D, gh: number, gw: number, s: number): tf.Tensor3D {
  const [b, p, e] = x.shape;
  if (p !== gh * gw) throw new VitasError(`poolGrid: ${p} tokens are not a ${gh}×${gw} grid`);
  if (s < 1 || s > gh || s > gw) throw new VitasError(`poolGrid: cannot pool a ${gh}×${gw} grid to ${s}×${s} cells`);
  const pool = constant(`pool:${gh}x${gw}:${s}`, () => tf.tensor2d(poolMatrix(gh, gw, s), [s * s, p]));
  return tf.tidy(() => {
    const tokensMajor = tf.reshape(tf.transpose(x, [1, 0, 2]), [p, b * e]);
    return tf.transpose(tf.reshape(tf.matMul(pool, tokensMajor), [s * s, b, e]), [1, 0, 2]);
  });
}

/** y = x·[W₁|W₂|…] + [b₁|b₂|…] split back into one [rows, out_i] per layer: one product for several projections of the same input. */
function projections(x: tf.Tensor2D, layers: Linear[]): tf.Tensor2D[] {
  const y = linear(x, tf.concat(layers.map((l) => l.w), 1), tf.concat(layers.map((l) => l.b), 0));
  return tf.split(y, layers.map((l) => l.w.shape[1]), 1) as tf.Tensor2D[];
}

export interface SemanticWeights {
  /** the M learned queries [M, E] */
  queries: tf.Tensor2D;
  qNorm: Norm;
  q: Linear;
  k: Linear;
  v: Linear;
  gateFc1: Linear;
  gateA: Linear;
  gateB: Linear;
  norm: Norm;
}

/**
 * The M semantic tokens [B, M, E] from the patch tokens [B, gh·gw, E], as the reference's stage 1:
 * the grid average-pooled to √M×√M cells; the learned queries (LayerNorm + linear) attend over the
 * pooled tokens (one head, scale E^-½); a gate, per channel softmax over {attended, pooled} of an
 * MLP (E→E, ReLU, →2E) of their mean over the tokens, mixes the two; a LayerNorm last.
 */
export function formSemantics(patches: tf.Tensor3D, gh: number, gw: number, w: SemanticWeights): tf.Tensor3D {
  const [b, , e] = patches.shape;
  const m = w.queries.shape[0];
  const s = Math.round(Math.sqrt(m));
  if (s * s !== m) throw new VitasError(`formSemantics: ${m} queries are not a square count`);
  checkShape('formSemantics', 'queries', w.queries, [m, e]);
  return tf.tidy(() => {
    const pooled = poolGrid(patches, gh, gw, s);
    const q = linear(layerNorm(w.queries, w.qNorm.gamma, w.qNorm.beta), w.q.w, w.q.b);
    const [k, v] = projections(tf.reshape(pooled, [b * m, e]), [w.k, w.v]).map((t) => tf.reshape(t, [b, m, e]) as tf.Tensor3D);
    const attended = crossAttention(tf.tile(tf.reshape(q, [1, m, e]), [b, 1, 1]) as tf.Tensor3D, k!, v!, 1);
    const hidden = tf.relu(linear(tf.mean(tf.add(attended, pooled), 1) as tf.Tensor2D, w.gateFc1.w, w.gateFc1.b)) as tf.Tensor2D;
    // softmax over the two branches = σ(a − b) for the attended one
    const gate = tf.reshape(tf.sigmoid(tf.sub(linear(hidden, w.gateA.w, w.gateA.b), linear(hidden, w.gateB.w, w.gateB.b))), [b, 1, e]);
    const mixed = tf.add(pooled, tf.mul(gate, tf.sub(attended, pooled)));
    return tf.reshape(layerNorm(tf.reshape(mixed, [b * m, e]), w.norm.gamma, w.norm.beta), [b, m, e]);
  });
}

export interface DualWeights {
  selfNorm: Norm;
  selfQ: Linear;
  selfK: Linear;
  selfV: Linear;
  selfProj: Linear;
  crossNorm: Norm;
  crossQ: Linear;
  crossK: Linear;
  crossV: Linear;
  crossProj: Linear;
  mlpNorm: Norm;
  fc1: Linear;
  fc2: Linear;
  kvNorm: Norm;
  /** the block's q, k, v and output projections (shared with the other mixers) */
  q: Linear;
  k: Linear;
  v: Linear;
  proj: Linear;
}

/**
 * One dual block's mixing, as `DualAttention.forward`: on the normalised pixel tokens h [B, T, E]
 * and the semantic tokens [B, M, E], (1) semantic self-attention, (2) the semantic tokens query
 * the pixel tokens, (3) the semantic MLP (ReLU), each a residual on the semantic stream; then
 * (4) the pixel tokens query only the M semantic tokens. Returns the pixel branch [B, T, E]
 * (the block adds it to its residual) and the updated semantic tokens.
 */
export function dualMixing(h: tf.Tensor3D, semantic: tf.Tensor3D, w: DualWeights, heads: number): { out: tf.Tensor3D; semantic: tf.Tensor3D } {
  const [b, t, e] = h.shape;
  const m = semantic.shape[1];
  checkShape('dualMixing', 'semantic', semantic, [b, m, e]);
  const inner = w.q.w.shape[1];
  if (inner % heads !== 0) throw new VitasError(`dualMixing: heads ${heads} do not divide the q/k/v width ${inner}`);
  const out = tf.tidy(() => {
    const to3 = (x: tf.Tensor2D, n: number): tf.Tensor3D => tf.reshape(x, [b, n, inner]);
    const flat = (x: tf.Tensor3D): tf.Tensor2D => tf.reshape(x, [x.shape[0] * x.shape[1], x.shape[2]]);
    const ln = (x: tf.Tensor2D, n: Norm): tf.Tensor2D => layerNorm(x, n.gamma, n.beta);
    const pixels = tf.reshape(h, [b * t, e]) as tf.Tensor2D;
    let s = tf.reshape(semantic, [b * m, e]) as tf.Tensor2D;
    // (1) semantic self-attention
    const [sq, sk, sv] = projections(ln(s, w.selfNorm), [w.selfQ, w.selfK, w.selfV]).map((x) => to3(x, m));
    s = tf.add(s, linear(flat(softmaxAttention(sq!, sk!, sv!, heads)), w.selfProj.w, w.selfProj.b));
    // (2) semantic tokens query the pixel tokens
    const cq = to3(linear(ln(s, w.crossNorm), w.crossQ.w, w.crossQ.b), m);
    const [ck, cv] = projections(pixels, [w.crossK, w.crossV]).map((x) => to3(x, t));
    s = tf.add(s, linear(flat(crossAttention(cq, ck!, cv!, heads)), w.crossProj.w, w.crossProj.b));
    // (3) the semantic MLP
    s = tf.add(s, linear(tf.relu(linear(ln(s, w.mlpNorm), w.fc1.w, w.fc1.b)) as tf.Tensor2D, w.fc2.w, w.fc2.b));
    // (4) pixel tokens query only the M semantic tokens: N·M, not N²
    const pq = to3(linear(pixels, w.q.w, w.q.b), t);
    const [pk, pv] = projections(ln(s, w.kvNorm), [w.k, w.v]).map((x) => to3(x, m));
    const o = linear(flat(crossAttention(pq, pk!, pv!, heads)), w.proj.w, w.proj.b);
    return [tf.reshape(o, [b, t, e]) as tf.Tensor3D, tf.reshape(s, [b, m, e]) as tf.Tensor3D];
  });
  return { out: out[0]!, semantic: out[1]! };
}
