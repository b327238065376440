/**
 * The network a spec describes, walked in forward order over the operator declarations. This one
 * walk is the single source of the cost model (MACs and parameters per layer), the parameter list
 * of a subnet (names, shapes, init, decay, sharing rule) and the activation estimate.
 */
import { ATTENTIONS, type ArchSpec, type Attention, type AttnBlock } from '../spec.js';
import { BETA, BIAS, blkOf, blockPrefix, countingOf, GAMMA, netOf, POS, QK_BIAS, QK_WEIGHT, SCALAR, TOKEN, WEIGHT, type Blk, type Convention, type Counting, type Emit, type Net } from './decl.js';
import { MIXERS } from './index.js';
import { lpi } from './lpi.js';
import { classAttentionActs, classAttentionParams, classBlockPrefix, classMixingMacs, classMlpMacs, classProjectionMacs } from './class-attention.js';
import { stemActs, stemMacs, stemParams } from './stem.js';

/**
 * Receives the walk: every parameter (`emit`), then the layer row it belongs to (`layer`). A row's
 * name is handed over in parts — `prefix`, the recursive pass (−1: none), `local`, sliced groups —
 * so that the totals path joins no strings.
 */
export interface NetworkVisitor {
  emit: Emit;
  layer(prefix: string, pass: number, local: string, macs: number, groups?: number): void;
}

/** The row name a visitor's parts stand for: `blocks.3.pass1.softmax.mixing (G=2)`. */
export function layerName(prefix: string, pass: number, local: string, groups = 1): string {
  const head = pass >= 0 ? `${prefix}.pass${pass}` : prefix;
  return `${head ? `${head}.` : ''}${local}${groups > 1 ? ` (G=${groups})` : ''}`;
}

/** The q, k, v and output projections shared by every mixer that has them (Q, K private per head count). */
export function projectionParams(net: Net, k: Blk, emit: Emit): void {
  emit(k.prefix, 'attn.q.w', QK_WEIGHT, net.E, k.I);
  emit(k.prefix, 'attn.q.b', QK_BIAS, k.I);
  emit(k.prefix, 'attn.k.w', QK_WEIGHT, net.E, k.I);
  emit(k.prefix, 'attn.k.b', QK_BIAS, k.I);
  emit(k.prefix, 'attn.v.w', WEIGHT, net.E, k.I);
  emit(k.prefix, 'attn.v.b', BIAS, k.I);
  emit(k.prefix, 'attn.proj.w', WEIGHT, k.I, net.E);
  emit(k.prefix, 'attn.proj.b', BIAS, net.E);
}

/** Local names of NLL k's parameters, built once. */
const nllNames: { norm: [string, string]; fc1: [string, string]; fc2: [string, string]; alpha: string; beta: string; row: string }[] = [];
function nllOf(pass: number): (typeof nllNames)[number] {
  return (nllNames[pass] ??= {
    norm: [`nll${pass}.norm.gamma`, `nll${pass}.norm.beta`],
    fc1: [`nll${pass}.fc1.w`, `nll${pass}.fc1.b`],
    fc2: [`nll${pass}.fc2.w`, `nll${pass}.fc2.b`],
    alpha: `nll${pass}.alpha`,
    beta: `nll${pass}.beta`,
    row: `nll${pass}`,
  });
}

/** SReT's non-linear projection layer (NLL) after pass `pass` (1-based) of a recursive block: LN + E→E→E MLP, α·x + β·F(x). */
export function nllParams(net: Net, k: Blk, pass: number, emit: Emit): void {
  const n = nllOf(pass);
  emit(k.prefix, n.norm[0], GAMMA, net.E);
  emit(k.prefix, n.norm[1], BETA, net.E);
  emit(k.prefix, n.fc1[0], WEIGHT, net.E, net.E);
  emit(k.prefix, n.fc1[1], BIAS, net.E);
  emit(k.prefix, n.fc2[0], WEIGHT, net.E, net.E);
  emit(k.prefix, n.fc2[1], BIAS, net.E);
  emit(k.prefix, n.alpha, SCALAR, 1);
  emit(k.prefix, n.beta, SCALAR, 1);
}

/** Names of the recursive block's residual scalars: x ← α₁x + β₁·attn, x ← α₂x + β₂·MLP (SReT's coefficients 1–4). */
export const RESIDUAL_SCALARS = ['alpha1', 'beta1', 'alpha2', 'beta2'] as const;

/** Row names per mixer, built once. */
const ROWS = Object.fromEntries(ATTENTIONS.map((a) => [a, { proj: `${a}.qkv+proj`, mix: `${a}.mixing` }])) as Record<Attention, { proj: string; mix: string }>;

/** One block's dimensions, rewritten per block: the walk allocates nothing per block (it is not re-entered). */
const scratch: { -readonly [K in keyof Blk]: Blk[K] } = { b: { op: 'attn', attention: 'softmax', heads: 1, qkv: 0, mlp: 1 }, prefix: '', I: 0, d: 0 };

function block(net: Net, c: Counting, b: AttnBlock, i: number, v: NetworkVisitor): void {
  const k = scratch;
  k.b = b;
  k.prefix = blockPrefix(i);
  k.I = b.qkv / 3;
  k.d = b.heads > 0 ? k.I / b.heads : 0;
  const mix = MIXERS[b.attention];
  const names = ROWS[b.attention];
  const r = b.recursion ?? 1;
  const proj = !mix.projections ? 0 : mix.projectionMacs ? mix.projectionMacs(net, k, c) : c.n * net.E * b.qkv + c.n * k.I * net.E;
  const mlp = 2 * c.n * net.E * b.mlp;
  const e = v.emit;
  for (let pass = 0; pass < r; pass++) {
    const g = b.groups ? b.groups[pass]! : 1;
    const first = pass === 0;
    const tag = r > 1 ? pass : -1;
    if (first) {
      e(k.prefix, 'norm1.gamma', GAMMA, net.E);
      e(k.prefix, 'norm1.beta', BETA, net.E);
      if (r > 1) for (const s of RESIDUAL_SCALARS) e(k.prefix, s, SCALAR, 1);
    }
    v.layer(k.prefix, tag, 'norm1', 0);
    if (mix.projections) {
      if (first) projectionParams(net, k, e);
      v.layer(k.prefix, tag, names.proj, proj);
    }
    if (first) mix.params(net, k, e);
    v.layer(k.prefix, tag, names.mix, mix.macs(net, k, c, g), g);
    if (b.lpi) {
      if (first) lpi.params(net, k, e);
      v.layer(k.prefix, tag, 'lpi', lpi.macs(net));
    }
    if (first) {
      e(k.prefix, 'norm2.gamma', GAMMA, net.E);
      e(k.prefix, 'norm2.beta', BETA, net.E);
    }
    v.layer(k.prefix, tag, 'norm2', 0);
    if (first) {
      e(k.prefix, 'mlp.fc1.w', WEIGHT, net.E, b.mlp);
      e(k.prefix, 'mlp.fc1.b', BIAS, b.mlp);
      e(k.prefix, 'mlp.fc2.w', WEIGHT, b.mlp, net.E);
      e(k.prefix, 'mlp.fc2.b', BIAS, net.E);
    }
    v.layer(k.prefix, tag, 'mlp', mlp);
    if (r > 1) {
      nllParams(net, k, pass + 1, e);
      v.layer(k.prefix, tag, nllOf(pass + 1).row, 2 * c.n * net.E * net.E);
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
    v.layer('stem', -1, 'conv1', conv1);
    v.layer('stem', -1, 'conv2', conv2);
  }
  v.layer('', -1, 'patch_embed', patchify);
  if (net.clsToken) {
    v.emit('', 'cls', TOKEN, net.E);
    v.layer('', -1, 'cls_token', 0);
  }
  if (spec.pos === 'learned') {
    v.emit('', 'pos', POS, net.T, net.E);
    v.layer('', -1, 'pos_embed', 0);
  }
  let streamed = false;
  for (let i = 0; i < spec.blocks.length; i++) {
    const b = spec.blocks[i]!;
    if (b.op === 'identity') continue;
    // a stream (Dual-ViT's semantic tokens) is formed once, at the first block whose mixer carries it
    const stream = MIXERS[b.attention].stream;
    if (stream && !streamed) {
      streamed = true;
      stream.params(net, v.emit);
      v.layer('', -1, stream.row, stream.macs(net));
    }
    block(net, c, b, i, v);
  }
  if (net.L > 0) {
    // class attention: the class token (not counted in `vitas`) queries itself and every patch
    const keys = net.P + (convention === 'macs' ? 1 : 0);
    for (let j = 0; j < net.L; j++) {
      const cb = spec.classBlocks![j]!;
      const p = classBlockPrefix(j);
      classAttentionParams(net, cb, p, 'norm1', v.emit);
      v.layer(p, -1, 'norm1', 0);
      classAttentionParams(net, cb, p, 'attn', v.emit);
      v.layer(p, -1, 'class-attention.qkv+proj', classProjectionMacs(net, cb, keys));
      v.layer(p, -1, 'class-attention.mixing', classMixingMacs(cb, keys));
      classAttentionParams(net, cb, p, 'norm2', v.emit);
      v.layer(p, -1, 'norm2', 0);
      classAttentionParams(net, cb, p, 'mlp', v.emit);
      v.layer(p, -1, 'mlp', classMlpMacs(net, cb));
    }
  }
  v.emit('', 'norm.gamma', GAMMA, net.E);
  v.emit('', 'norm.beta', BETA, net.E);
  v.layer('', -1, 'norm', 0);
  v.emit('', 'head.w', WEIGHT, net.E, spec.classes);
  v.emit('', 'head.b', BIAS, spec.classes);
  v.layer('', -1, 'head', c.head * net.E * spec.classes);
}

/** Floats per image that a training step keeps for its backward (the memory guard's estimate). */
export function activationFloats(spec: ArchSpec): number {
  const net = netOf(spec);
  let floats = stemActs(net);
  let streamed = false;
  for (let j = 0; j < net.L; j++) floats += classAttentionActs(net, spec.classBlocks![j]!);
  for (let i = 0; i < spec.blocks.length; i++) {
    const b = spec.blocks[i]!;
    if (b.op === 'identity') continue;
    const k = blkOf(b, i);
    const mix = MIXERS[b.attention];
    if (mix.stream && !streamed) {
      streamed = true;
      floats += mix.stream.acts(net);
    }
    const r = b.recursion ?? 1;
    // norms, residuals, q/k/v/proj, the MLP's two sides, the mixer's own, the NLL of a recursive pass, LPI
    const perPass = net.T * (4 * net.E + (mix.projections ? 5 * k.I : 0) + 3 * b.mlp) + mix.acts(net, k) + (r > 1 ? 5 * net.T * net.E : 0) + (b.lpi ? lpi.acts(net) : 0);
    floats += r * perPass;
  }
  return floats;
}
