/**
 * The network a spec describes, walked in forward order over the operator declarations. This one
 * walk is the single source of the cost model (MACs and parameters per layer), the parameter list
 * of a subnet (names, shapes, init, decay, sharing rule) and the activation estimate.
 */
import type { ArchSpec, AttnBlock } from '../spec.js';
import { BETA, BIAS, blkOf, countingOf, GAMMA, netOf, POS, QK_BIAS, QK_WEIGHT, SCALAR, TOKEN, WEIGHT, type Blk, type Convention, type Counting, type Emit, type Net } from './decl.js';
import { MIXERS } from './index.js';
import { stemActs, stemMacs, stemParams } from './stem.js';

/** Receives the walk: every parameter (`emit`), then the layer row it belongs to (`layer`). */
export interface NetworkVisitor {
  emit: Emit;
  layer(name: string, macs: number): void;
}

const linear = (emit: Emit, prefix: string, local: string, din: number, dout: number): void => {
  emit(prefix, `${local}.w`, WEIGHT, din, dout);
  emit(prefix, `${local}.b`, BIAS, dout);
};
const norm = (emit: Emit, prefix: string, local: string, dim: number): void => {
  emit(prefix, `${local}.gamma`, GAMMA, dim);
  emit(prefix, `${local}.beta`, BETA, dim);
};

/** The q, k, v and output projections shared by every mixer that has them (Q, K private per head count). */
export function projectionParams(net: Net, k: Blk, emit: Emit): void {
  for (const n of ['attn.q', 'attn.k'] as const) {
    emit(k.prefix, `${n}.w`, QK_WEIGHT, net.E, k.I);
    emit(k.prefix, `${n}.b`, QK_BIAS, k.I);
  }
  linear(emit, k.prefix, 'attn.v', net.E, k.I);
  linear(emit, k.prefix, 'attn.proj', k.I, net.E);
}

/** SReT's non-linear projection layer (NLL) after pass `pass` (1-based) of a recursive block: LN + E→E→E MLP, α·x + β·F(x). */
export function nllParams(net: Net, k: Blk, pass: number, emit: Emit): void {
  const p = `nll${pass}`;
  norm(emit, k.prefix, `${p}.norm`, net.E);
  linear(emit, k.prefix, `${p}.fc1`, net.E, net.E);
  linear(emit, k.prefix, `${p}.fc2`, net.E, net.E);
  emit(k.prefix, `${p}.alpha`, SCALAR, 1);
  emit(k.prefix, `${p}.beta`, SCALAR, 1);
}

/**
 * XCiT's local patch interaction (UFO-ViT uses it): LN → depthwise 3×3 → GELU → BatchNorm →
 * depthwise 3×3 on the patch grid, its own residual (class token passes by); 18·P·E MACs.
 */
export function lpiParams(net: Net, k: Blk, emit: Emit): void {
  norm(emit, k.prefix, 'lpi.norm', net.E);
  linear(emit, k.prefix, 'lpi.conv1', 9, net.E);
  norm(emit, k.prefix, 'lpi.bn', net.E);
  linear(emit, k.prefix, 'lpi.conv2', 9, net.E);
}

/** Names of the recursive block's residual scalars: x ← α₁x + β₁·attn, x ← α₂x + β₂·MLP (SReT's coefficients 1–4). */
export const RESIDUAL_SCALARS = ['alpha1', 'beta1', 'alpha2', 'beta2'] as const;

function block(net: Net, c: Counting, b: AttnBlock, i: number, v: NetworkVisitor): void {
  const k = blkOf(b, i);
  const mix = MIXERS[b.attention];
  const r = b.recursion ?? 1;
  const proj = mix.projections ? c.n * net.E * b.qkv + c.n * k.I * net.E : 0;
  const mlp = 2 * c.n * net.E * b.mlp;
  for (let pass = 0; pass < r; pass++) {
    const g = b.groups ? b.groups[pass]! : 1;
    const first = pass === 0;
    const tag = r > 1 ? `${k.prefix}.pass${pass}` : k.prefix;
    if (first) {
      norm(v.emit, k.prefix, 'norm1', net.E);
      if (r > 1) for (const s of RESIDUAL_SCALARS) v.emit(k.prefix, s, SCALAR, 1);
    }
    v.layer(`${tag}.norm1`, 0);
    if (mix.projections) {
      if (first) projectionParams(net, k, v.emit);
      v.layer(`${tag}.${b.attention}.qkv+proj`, proj);
    }
    if (first) mix.params(net, k, v.emit);
    v.layer(`${tag}.${b.attention}.mixing${g > 1 ? ` (G=${g})` : ''}`, mix.macs(net, k, c, g));
    if (b.lpi) {
      if (first) lpiParams(net, k, v.emit);
      v.layer(`${tag}.lpi`, 2 * net.P * 9 * net.E);
    }
    if (first) norm(v.emit, k.prefix, 'norm2', net.E);
    v.layer(`${tag}.norm2`, 0);
    if (first) {
      linear(v.emit, k.prefix, 'mlp.fc1', net.E, b.mlp);
      linear(v.emit, k.prefix, 'mlp.fc2', b.mlp, net.E);
    }
    v.layer(`${tag}.mlp`, mlp);
    if (r > 1) {
      nllParams(net, k, pass + 1, v.emit);
      v.layer(`${tag}.nll${pass + 1}`, 2 * c.n * net.E * net.E);
    }
  }
}

/** Walk `spec` in forward order: parameters and cost rows. */
export function walkNetwork(spec: ArchSpec, convention: Convention, v: NetworkVisitor): void {
  const net = netOf(spec);
  const c = countingOf(net, convention);
  const [conv1, conv2, patchify] = stemMacs(net);
  stemParams(net, v.emit);
  if (spec.stem === 'conv') {
    v.layer('stem.conv1', conv1);
    v.layer('stem.conv2', conv2);
  }
  v.layer('patch_embed', patchify);
  if (net.cls) {
    v.emit('', 'cls', TOKEN, net.E);
    v.layer('cls_token', 0);
  }
  if (spec.pos === 'learned') {
    v.emit('', 'pos', POS, net.T, net.E);
    v.layer('pos_embed', 0);
  }
  for (let i = 0; i < spec.blocks.length; i++) {
    const b = spec.blocks[i]!;
    if (b.op !== 'identity') block(net, c, b, i, v);
  }
  norm(v.emit, '', 'norm', net.E);
  v.layer('norm', 0);
  linear(v.emit, '', 'head', net.E, spec.classes);
  v.layer('head', c.head * net.E * spec.classes);
}

/** Floats per image that a training step keeps for its backward (the memory guard's estimate). */
export function activationFloats(spec: ArchSpec): number {
  const net = netOf(spec);
  let floats = stemActs(net);
  for (let i = 0; i < spec.blocks.length; i++) {
    const b = spec.blocks[i]!;
    if (b.op === 'identity') continue;
    const k = blkOf(b, i);
    const mix = MIXERS[b.attention];
    const r = b.recursion ?? 1;
    // norms, residuals, q/k/v/proj, the MLP's two sides, the mixer's own, the NLL of a recursive pass
    const perPass = net.T * (4 * net.E + (mix.projections ? 5 * k.I : 0) + 3 * b.mlp) + mix.acts(net, k) + (r > 1 ? 5 * net.T * net.E : 0);
    floats += r * perPass;
  }
  return floats;
}
