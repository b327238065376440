/**
 * The vision transformer a spec describes, written once as a function of its parameters.
 * The supernet passes a source that slices shared weights; the standalone model passes one that
 * holds exact-size weights. So "which network runs" is always the explicit `spec` argument.
 *
 * Parameter names (standalone): patch_embed, cls, pos, blocks.{i}.norm1, blocks.{i}.attn.{q,k,v,proj},
 * blocks.{i}.norm2, blocks.{i}.mlp.{fc1,fc2}, blocks.{i}.nll{k}.{norm,fc1,fc2,alpha,beta}, norm, head.
 */
import * as tf from '@tensorflow/tfjs-core';
import { groupSizes } from '../space/cost.js';
import { VitasError } from '../space/errors.js';
import { Rng } from '../space/rng.js';
import type { ArchSpec, AttnBlock } from '../space/spec.js';
import { gelu, layerNorm, linear, softmaxAttention, softmaxAttentionQkv } from './ops.js';
import { fusedKernelsActive } from '../backend/simd-kernels.js';

export interface ParamSource {
  /** W [din, dout] and b [dout] of a linear layer */
  linear(name: string, din: number, dout: number): { w: tf.Tensor2D; b: tf.Tensor1D };
  /** γ and β of a LayerNorm over `dim` channels */
  norm(name: string, dim: number): { gamma: tf.Tensor1D; beta: tf.Tensor1D };
  /** any other tensor: class token [E], position embedding [T, E], residual scalars [1] */
  tensor(name: string, shape: number[]): tf.Tensor;
}

/** What the supernet and standalone model can run today; other operators are priced by the cost model only. */
export function assertRunnable(spec: ArchSpec): void {
  if (spec.stem !== 'linear') throw new VitasError(`stem "${spec.stem}" is not implemented in the network yet; use "linear"`);
  if (spec.pos === 'rope') throw new VitasError('pos "rope" is not implemented in the network yet; use "learned" or "none"');
  spec.blocks.forEach((b, i) => {
    if (b.op !== 'attn') return;
    if (b.attention !== 'softmax') throw new VitasError(`blocks[${i}].attention: "${b.attention}" is not implemented in the network yet (cost model only); use "softmax"`);
    if (b.lpi) throw new VitasError(`blocks[${i}].lpi: not implemented in the network yet`);
  });
}

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

/** Training-time options: stochastic depth (drop-path) on every residual branch. */
export interface ForwardOptions {
  /** drop-path rate of the last block (rising linearly from 0 over the active blocks) */
  dropPath?: number;
  /** RNG for the drop-path masks (seeded: the same seed gives the same masks) */
  rng?: Rng;
}

/** x + branch, the branch dropped per sample with probability `rate` (survivors scaled by 1/(1−rate)). */
function residual(x: tf.Tensor2D, branch: tf.Tensor2D, rate: number, b: number, rng: Rng | undefined): tf.Tensor2D {
  if (rate <= 0 || !rng) return tf.add(x, branch);
  const keep = 1 - rate;
  const mask = tf.div(tf.floor(tf.add(tf.randomUniform([b, 1, 1], 0, 1, 'float32', rng.int(2 ** 31)), keep)), keep);
  const [rows, e] = branch.shape;
  return tf.add(x, tf.reshape(tf.mul(tf.reshape(branch, [b, rows / b, e]), mask), [rows, e]));
}

function block(x: tf.Tensor2D, blk: AttnBlock, i: number, ps: ParamSource, dims: { b: number; t: number; e: number; patches: number; cls: number }, drop: number, rng: Rng | undefined): tf.Tensor2D {
  const { b, t, e, patches, cls } = dims;
  const inner = blk.qkv / 3;
  const r = blk.recursion ?? 1;
  const p = `blocks.${i}`;
  for (let pass = 0; pass < r; pass++) {
    const g = blk.groups?.[pass] ?? 1;
    const n1 = ps.norm(`${p}.norm1`, e);
    const h = layerNorm(x, n1.gamma, n1.beta);
    // q, k and v in one product (their weights are separate, possibly private, slices): one
    // larger matMul and one backward instead of three
    const [lq, lk, lv] = (['q', 'k', 'v'] as const).map((n) => ps.linear(`${p}.attn.${n}`, e, inner));
    const qkv = linear(h, tf.concat([lq!.w, lk!.w, lv!.w], 1), tf.concat([lq!.b, lk!.b, lv!.b], 0));
    let o: tf.Tensor3D;
    if (g === 1 && fusedKernelsActive()) {
      // one kernel reads q, k, v where the product put them, side by side
      o = softmaxAttentionQkv(tf.reshape(qkv, [b, t, 3 * inner]), blk.heads);
    } else {
      let [q, k, v] = tf.split(qkv, 3, 1).map((z) => tf.reshape(z, [b, t, inner])) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      // the recursive pass regroups tokens after a fixed permutation (identity for G = 1: attention is permutation-equivariant)
      const perm = pass > 0 && g > 1 ? tokenPermutation(patches, cls, i, pass) : undefined;
      if (perm) [q, k, v] = [q, k, v].map((z) => permuteTokens(z, perm, false)) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      o = groupedAttention(q, k, v, blk.heads, patches, cls, g);
      if (perm) o = permuteTokens(o, perm, true);
    }
    const po = ps.linear(`${p}.attn.proj`, inner, e);
    x = residual(x, linear(tf.reshape(o, [b * t, inner]), po.w, po.b), drop, b, rng);
    const n2 = ps.norm(`${p}.norm2`, e);
    const f1 = ps.linear(`${p}.mlp.fc1`, e, blk.mlp);
    const f2 = ps.linear(`${p}.mlp.fc2`, blk.mlp, e);
    x = residual(x, linear(gelu(linear(layerNorm(x, n2.gamma, n2.beta), f1.w, f1.b)) as tf.Tensor2D, f2.w, f2.b), drop, b, rng);
    if (pass > 0) {
      // SReT non-linear projection layer of this pass: x ← α·x + β·MLP(LN(x)), ratio 1
      const q2 = `${p}.nll${pass}`;
      const nn = ps.norm(`${q2}.norm`, e);
      const a1 = ps.linear(`${q2}.fc1`, e, e);
      const a2 = ps.linear(`${q2}.fc2`, e, e);
      const f = linear(gelu(linear(layerNorm(x, nn.gamma, nn.beta), a1.w, a1.b)) as tf.Tensor2D, a2.w, a2.b);
      x = tf.add(tf.mul(x, ps.tensor(`${q2}.alpha`, [1])), tf.mul(f, ps.tensor(`${q2}.beta`, [1])));
    }
  }
  return x;
}

/** Logits [B, classes] of the network `spec` on NHWC images, with parameters from `ps`. */
export function vitForward(images: tf.Tensor4D, spec: ArchSpec, ps: ParamSource, opts: ForwardOptions = {}): tf.Tensor2D {
  const [b, hh, ww, c] = images.shape;
  const p = spec.patch;
  const e = spec.embed;
  const gh = hh / p, gw = ww / p;
  const patches = gh * gw;
  const cls = spec.readout === 'cls' ? 1 : 0;
  const t = patches + cls;
  const flat = tf.reshape(tf.transpose(tf.reshape(images, [b, gh, p, gw, p, c]), [0, 1, 3, 2, 4, 5]), [b * patches, p * p * c]);
  const pe = ps.linear('patch_embed', p * p * c, e);
  let tokens = tf.reshape(linear(flat as tf.Tensor2D, pe.w, pe.b), [b, patches, e]) as tf.Tensor3D;
  if (cls) tokens = tf.concat([tf.tile(tf.reshape(ps.tensor('cls', [e]), [1, 1, e]), [b, 1, 1]) as tf.Tensor3D, tokens], 1);
  if (spec.pos === 'learned') tokens = tf.add(tokens, tf.reshape(ps.tensor('pos', [t, e]), [1, t, e])) as tf.Tensor3D;
  let x = tf.reshape(tokens, [b * t, e]) as tf.Tensor2D;
  const dims = { b, t, e, patches, cls };
  const depth = spec.blocks.filter((blk) => blk.op === 'attn').length;
  let k = 0;
  spec.blocks.forEach((blk, i) => {
    if (blk.op !== 'attn') return;
    const drop = depth > 1 ? ((opts.dropPath ?? 0) * k) / (depth - 1) : 0;
    x = block(x, blk, i, ps, dims, drop, opts.rng);
    k++;
  });
  const n = ps.norm('norm', e);
  const y = tf.reshape(layerNorm(x, n.gamma, n.beta), [b, t, e]);
  const pooled = cls ? tf.reshape(tf.slice(y, [0, 0, 0], [b, 1, e]), [b, e]) : tf.mean(y, 1);
  const head = ps.linear('head', e, spec.classes);
  return linear(pooled as tf.Tensor2D, head.w, head.b);
}

/** Names and shapes of every parameter `spec` uses (traced by running the forward once on one zero image). */
export function paramShapes(spec: ArchSpec): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  tf.tidy(() => {
    const rec: ParamSource = {
      linear(name, din, dout) {
        shapes.set(`${name}.w`, [din, dout]).set(`${name}.b`, [dout]);
        return { w: tf.zeros([din, dout]), b: tf.zeros([dout]) };
      },
      norm(name, dim) {
        shapes.set(`${name}.gamma`, [dim]).set(`${name}.beta`, [dim]);
        return { gamma: tf.ones([dim]), beta: tf.zeros([dim]) };
      },
      tensor(name, shape) {
        shapes.set(name, shape);
        return tf.zeros(shape);
      },
    };
    vitForward(tf.zeros([1, ...spec.input]), spec, rec);
  });
  return shapes;
}

/** Every parameter `spec` uses, in forward order, derived without running anything; a test keeps it equal to `paramShapes` (the traced truth). */
export function paramList(spec: ArchSpec): { name: string; shape: number[] }[] {
  const out: { name: string; shape: number[] }[] = [];
  const e = spec.embed;
  const lin = (n: string, din: number, dout: number): void => void out.push({ name: `${n}.w`, shape: [din, dout] }, { name: `${n}.b`, shape: [dout] });
  const norm = (n: string, dim: number): void => void out.push({ name: `${n}.gamma`, shape: [dim] }, { name: `${n}.beta`, shape: [dim] });
  const patches = (spec.input[0] / spec.patch) * (spec.input[1] / spec.patch);
  const cls = spec.readout === 'cls' ? 1 : 0;
  lin('patch_embed', spec.patch * spec.patch * spec.input[2], e);
  if (cls) out.push({ name: 'cls', shape: [e] });
  if (spec.pos === 'learned') out.push({ name: 'pos', shape: [patches + cls, e] });
  spec.blocks.forEach((b, i) => {
    if (b.op !== 'attn') return;
    const p = `blocks.${i}`;
    const inner = b.qkv / 3;
    norm(`${p}.norm1`, e);
    for (const n of ['q', 'k', 'v']) lin(`${p}.attn.${n}`, e, inner);
    lin(`${p}.attn.proj`, inner, e);
    norm(`${p}.norm2`, e);
    lin(`${p}.mlp.fc1`, e, b.mlp);
    lin(`${p}.mlp.fc2`, b.mlp, e);
    for (let k = 1; k < (b.recursion ?? 1); k++) {
      norm(`${p}.nll${k}.norm`, e);
      lin(`${p}.nll${k}.fc1`, e, e);
      lin(`${p}.nll${k}.fc2`, e, e);
      out.push({ name: `${p}.nll${k}.alpha`, shape: [1] }, { name: `${p}.nll${k}.beta`, shape: [1] });
    }
  });
  norm('norm', e);
  lin('head', e, spec.classes);
  return out;
}
