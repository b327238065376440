/**
 * The vision transformer a spec describes, written once as a function of its parameters. The
 * supernet passes a source that slices shared weights; the standalone model passes one holding
 * exact-size weights. So "which network runs" is always the explicit `spec` argument. The
 * parameters a forward asks for are exactly those the operator declarations list (`paramList`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedKernelsActive } from '../backend/simd-kernels.js';
import { blkOf, netOf } from '../space/operators/decl.js';
import { RESIDUAL_SCALARS } from '../space/operators/network.js';
import { drawTensorSeed, type Rng } from '../space/rng.js';
import type { ArchSpec, AttnBlock } from '../space/spec.js';
import type { NormMode } from './fn/batchnorm.js';
import { conv3x3 } from './fn/conv.js';
import { rope2d } from './fn/rope.js';
import { classBlockPrefix } from '../space/operators/class-attention.js';
import { classAttentionLayer } from './operators/class-attention.js';
import { MIXER_FORWARDS } from './operators/index.js';
import { lpiBranch } from './operators/lpi.js';
import type { MixCtx } from './operators/mixing.js';
import { normOf, weightOf, type ParamSource } from './operators/source.js';
import { gelu, layerNorm, linear, softmaxAttentionQkv } from './ops.js';

export type { ParamSource } from './operators/source.js';

/** Training-time options: stochastic depth (drop-path) on every residual branch, BatchNorm by batch statistics. */
export interface ForwardOptions {
  /** drop-path rate of the last block (rising linearly from 0 over the active blocks) */
  dropPath?: number;
  /** RNG for the drop-path masks (seeded: the same seed gives the same masks) */
  rng?: Rng;
  /** BatchNorm layers (LPI's): by their running statistics (the default: evaluation) or by the batch's own */
  norm?: NormMode;
}

/** The branch [B·T, E], dropped per sample with probability `rate` (survivors scaled by 1/(1−rate)). */
function dropPath(branch: tf.Tensor2D, rate: number, b: number, rng: Rng | undefined): tf.Tensor2D {
  if (rate <= 0 || !rng) return branch;
  const keep = 1 - rate;
  const mask = tf.div(tf.floor(tf.add(tf.randomUniform([b, 1, 1], 0, 1, 'float32', drawTensorSeed(rng)), keep)), keep);
  const [rows, e] = branch.shape;
  return tf.reshape(tf.mul(tf.reshape(branch, [b, rows / b, e]), mask), [rows, e]);
}

/** x + branch, or SReT's α·x + β·branch in a recursive block. */
function residual(x: tf.Tensor2D, branch: tf.Tensor2D, scales: [tf.Tensor, tf.Tensor] | undefined): tf.Tensor2D {
  return scales ? tf.add(tf.mul(x, scales[0]), tf.mul(branch, scales[1])) : tf.add(x, branch);
}

/** The token mixer's branch [B·T, E] of one pass: q/k/v, the mixer, the output projection (or a token mixer alone). */
function mixing(h: tf.Tensor2D, c: MixCtx): tf.Tensor2D {
  const { B, T, E, k, ps } = c;
  const fwd = MIXER_FORWARDS[k.b.attention]!;
  if (!fwd.projections || 'stream' in fwd) return tf.reshape(fwd.forward(tf.reshape(h, [B, T, E]), c), [B * T, E]);
  const I = k.I;
  // q, k and v in one product (their weights are separate, possibly private, slices): one larger matMul and one backward
  const [lq, lk, lv] = (['q', 'k', 'v'] as const).map((n) => weightOf(ps, `${k.prefix}.attn.${n}`));
  const qkv = linear(h, tf.concat([lq!.w, lk!.w, lv!.w], 1), tf.concat([lq!.b, lk!.b, lv!.b], 0));
  let o: tf.Tensor3D;
  if (k.b.attention === 'softmax' && c.groups === 1 && !c.rope && fusedKernelsActive()) {
    // one kernel reads q, k, v where the product put them, side by side
    o = softmaxAttentionQkv(tf.reshape(qkv, [B, T, 3 * I]), k.b.heads);
  } else {
    let [q, kk, v] = tf.split(qkv, 3, 1).map((z) => tf.reshape(z, [B, T, I])) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    if (c.rope) [q, kk] = [rope2d(q, k.b.heads, c.gh, c.gw, c.cls), rope2d(kk, k.b.heads, c.gh, c.gw, c.cls)];
    o = fwd.forward(q, kk, v, c);
  }
  const po = weightOf(ps, `${k.prefix}.attn.proj`);
  return linear(tf.reshape(o, [B * T, I]), po.w, po.b);
}

const mlp = (x: tf.Tensor2D, ps: ParamSource, name: string): tf.Tensor2D => {
  const f1 = weightOf(ps, `${name}.fc1`);
  const f2 = weightOf(ps, `${name}.fc2`);
  return linear(gelu(linear(x, f1.w, f1.b)) as tf.Tensor2D, f2.w, f2.b);
};

const norm = (x: tf.Tensor2D, ps: ParamSource, name: string): tf.Tensor2D => {
  const n = normOf(ps, name);
  return layerNorm(x, n.gamma, n.beta);
};

function block(x: tf.Tensor2D, blk: AttnBlock, i: number, base: Omit<MixCtx, 'k' | 'block' | 'pass' | 'groups'>, drop: number, rng: Rng | undefined, bn: NormMode): tf.Tensor2D {
  // base.streams is shared by every pass and block of this forward: a stream mixer updates it
  const k = blkOf(blk, i);
  const { ps, B } = base;
  const r = blk.recursion ?? 1;
  const scalar = (n: string): tf.Tensor => ps.get(`${k.prefix}.${n}`);
  // SReT: a recursive block's residuals are α·x + β·F(x) (its four coefficients), and every pass is followed by its own NLL
  const [a1, b1, a2, b2] = r > 1 ? RESIDUAL_SCALARS.map(scalar) : [];
  for (let pass = 0; pass < r; pass++) {
    const c: MixCtx = { ...base, k, block: i, pass, groups: blk.groups?.[pass] ?? 1 };
    x = residual(x, dropPath(mixing(norm(x, ps, `${k.prefix}.norm1`), c), drop, B, rng), a1 ? [a1, b1!] : undefined);
    // XCiT's order: attention → LPI → MLP, LPI with its own plain residual
    if (blk.lpi) x = tf.add(x, dropPath(lpiBranch(x, c, bn), drop, B, rng));
    x = residual(x, dropPath(mlp(norm(x, ps, `${k.prefix}.norm2`), ps, `${k.prefix}.mlp`), drop, B, rng), a2 ? [a2, b2!] : undefined);
    if (r > 1) {
      const nll = `${k.prefix}.nll${pass + 1}`;
      x = residual(x, mlp(norm(x, ps, `${nll}.norm`), ps, nll), [ps.get(`${nll}.alpha`), ps.get(`${nll}.beta`)]);
    }
  }
  return x;
}

/** Channel LayerNorm + GELU of a stem feature map [B, H, W, C]. */
function stemAct(x: tf.Tensor4D, ps: ParamSource, name: string): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  return tf.reshape(gelu(norm(tf.reshape(x, [b * h * w, c]), ps, name)), [b, h, w, c]);
}

/**
 * Patch tokens [B·P, E] from NHWC images: patchify + one 2-D matMul; the conv stem first runs two
 * 3×3 stride-2 convolutions (im2col + matMul), each with a channel LayerNorm and GELU, and
 * patchifies by p/4.
 */
function stem(images: tf.Tensor4D, spec: ArchSpec, ps: ParamSource): tf.Tensor2D {
  let x = images;
  let p = spec.patch;
  if (spec.stem === 'conv') {
    const c1 = weightOf(ps, 'stem.conv1');
    x = stemAct(conv3x3(x, c1.w, c1.b, 2), ps, 'stem.norm1');
    const c2 = weightOf(ps, 'stem.conv2');
    x = stemAct(conv3x3(x, c2.w, c2.b, 2), ps, 'stem.norm2');
    p /= 4;
  }
  const [b, hh, ww, c] = x.shape;
  const gh = hh / p, gw = ww / p;
  const flat = tf.reshape(tf.transpose(tf.reshape(x, [b, gh, p, gw, p, c]), [0, 1, 3, 2, 4, 5]), [b * gh * gw, p * p * c]);
  const pe = weightOf(ps, 'patch_embed');
  return linear(flat as tf.Tensor2D, pe.w, pe.b);
}

/** Logits [B, classes] of the network `spec` on NHWC images, with parameters from `ps`. */
export function vitForward(images: tf.Tensor4D, spec: ArchSpec, ps: ParamSource, opts: ForwardOptions = {}): tf.Tensor2D {
  const net = netOf(spec);
  const B = images.shape[0];
  const { E, T, P, cls } = net;
  let tokens = tf.reshape(stem(images, spec, ps), [B, P, E]) as tf.Tensor3D;
  if (cls) tokens = tf.concat([tf.tile(tf.reshape(ps.get('cls'), [1, 1, E]), [B, 1, 1]) as tf.Tensor3D, tokens], 1);
  if (spec.pos === 'learned') tokens = tf.add(tokens, tf.reshape(ps.get('pos'), [1, T, E])) as tf.Tensor3D;
  let x = tf.reshape(tokens, [B * T, E]) as tf.Tensor2D;
  const base = { B, T, E, P, cls, gh: net.gh, gw: net.gw, rope: spec.pos === 'rope', ps, streams: {} };
  const depth = spec.blocks.filter((blk) => blk.op === 'attn').length;
  let k = 0;
  spec.blocks.forEach((blk, i) => {
    if (blk.op !== 'attn') return;
    const drop = depth > 1 ? ((opts.dropPath ?? 0) * k) / (depth - 1) : 0;
    x = block(x, blk, i, base, drop, opts.rng, opts.norm ?? 'running');
    k++;
  });
  const head = weightOf(ps, 'head');
  return linear(readout(x, spec, net, B, ps), head.w, head.b);
}

/** What the head reads [B, E]: the class token after the class-attention layers, else the normalised class token or token mean. */
function readout(x: tf.Tensor2D, spec: ArchSpec, net: ReturnType<typeof netOf>, B: number, ps: ParamSource): tf.Tensor2D {
  const { E, T, P, cls, L } = net;
  if (L > 0) {
    // CaiT: the class token joins only now, and only it is updated
    const patches = tf.reshape(x, [B, P, E]) as tf.Tensor3D;
    let c = tf.tile(tf.reshape(ps.get('cls'), [1, E]), [B, 1]) as tf.Tensor2D;
    for (let j = 0; j < L; j++) c = classAttentionLayer(c, patches, spec.classBlocks![j]!, classBlockPrefix(j), ps);
    return norm(c, ps, 'norm');
  }
  const y = tf.reshape(norm(x, ps, 'norm'), [B, T, E]);
  return (cls ? tf.reshape(tf.slice(y, [0, 0, 0], [B, 1, E]), [B, E]) : tf.mean(y, 1)) as tf.Tensor2D;
}

/** Names of every parameter the forward of `spec` asks for (traced on one zero image); tests hold it to `paramList`. */
export function tracedParamNames(spec: ArchSpec, shapes: Map<string, number[]>): string[] {
  const names: string[] = [];
  tf.tidy(() => {
    const rec: ParamSource = {
      get(name) {
        names.push(name);
        const s = shapes.get(name);
        if (!s) throw new Error(`the forward asks for ${name}, which no declaration lists`);
        return tf.fill(s, 0.01);
      },
    };
    vitForward(tf.zeros([1, ...spec.input]), spec, rec);
  });
  return [...new Set(names)];
}
