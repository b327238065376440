/**
 * The analytic cost model (DESIGN §3, §6): MACs and parameters of a spec, per layer and in total.
 * Pure arithmetic on the spec, no tensors; the searcher calls it millions of times, so the hot
 * path allocates nothing unless a per-layer sink is passed.
 *
 * Conventions:
 * - `macs`: tokens N = patches + class token; the head counted once.
 * - `vitas`: the ViTAS paper's counter: N = patches (no class token); the head counted at every patch token.
 * Parameters do not depend on the convention.
 */
import type { ArchSpec, AttnBlock } from './spec.js';

export type Convention = 'macs' | 'vitas';
export const CONVENTIONS: readonly Convention[] = ['macs', 'vitas'];

export interface Cost {
  macs: number;
  params: number;
}

export interface LayerCost extends Cost {
  layer: string;
}

type Sink = (layer: string, macs: number, params: number) => void;

/** Σ n_g² over G contiguous groups of P patch tokens (first P mod G groups one larger), `extra` tokens joining group 0. */
export function groupedSquares(patches: number, groups: number, extra: number): number {
  const q = Math.floor(patches / groups);
  const rem = patches - q * groups;
  // Group 0 is one of the larger groups when rem > 0.
  const first = (rem > 0 ? q + 1 : q) + extra;
  const big = rem > 0 ? rem - 1 : 0;
  const small = groups - 1 - big;
  return first * first + big * (q + 1) * (q + 1) + small * q * q;
}

/** Sizes of the G groups (for the supernet and for tests); class token not included. */
export function groupSizes(patches: number, groups: number): number[] {
  const q = Math.floor(patches / groups);
  const rem = patches % groups;
  return Array.from({ length: groups }, (_, g) => (g < rem ? q + 1 : q));
}

/** MACs of the q/k/v and output projections of one pass. */
function projMacs(b: AttnBlock, n: number, e: number): number {
  return b.qkv === 0 ? 0 : n * e * b.qkv + (n * b.qkv * e) / 3;
}

/**
 * MACs of one pass of the token mixing itself (QKᵀ and AV, or what replaces them), n tokens
 * counted, `groups` sliced groups over the patches, `clsCounted` class tokens joining group 0.
 */
function mixingMacs(b: AttnBlock, n: number, e: number, patches: number, clsCounted: number, groups: number): number {
  const inner = b.qkv / 3;
  if (b.attention === 'softmax') return 2 * inner * (groups > 1 ? groupedSquares(patches, groups, clsCounted) : n * n);
  const m = b.features ?? 0;
  switch (b.attention) {
    case 'performer':
      return 4 * n * m * inner + n * m * b.heads;
    case 'linformer':
      return 4 * n * m * inner;
    case 'nystrom':
      // kernels QK̃ᵀ, Q̃K̃ᵀ, Q̃Kᵀ; 6 pinv iterations of 4 m×m products; the three chained products
      return 4 * n * m * inner + m * m * inner + 24 * m * m * m * b.heads + n * m * m * b.heads;
    case 'xnorm':
      return 2 * n * inner * (inner / b.heads);
    case 'fnet':
      return 2 * n * e * e + 2 * n * n * e;
    case 'mixer':
      return 2 * n * (b.tokenMlp ?? 0) * e;
  }
}

/** Parameters of the token mixer; nt = the tokens the network really has. */
function mixerParams(b: AttnBlock, e: number, nt: number): number {
  const inner = b.qkv / 3;
  const qkvProj = b.qkv === 0 ? 0 : e * b.qkv + b.qkv + inner * e + e;
  if (b.attention === 'softmax') return qkvProj;
  switch (b.attention) {
    case 'linformer':
      return qkvProj + 2 * nt * (b.features ?? 0);
    case 'xnorm':
      return qkvProj + b.heads; // γ per head
    case 'mixer': {
      const t = b.tokenMlp ?? 0;
      return nt * t + t + t * nt + nt;
    }
    default:
      return qkvProj;
  }
}

const mlpMacs = (n: number, e: number, h: number): number => 2 * n * e * h;
const mlpParams = (e: number, h: number): number => e * h + h + h * e + e;
/** XCiT LPI: two depthwise 3×3 convs on the patch grid, a norm between. */
const lpiMacs = (patches: number, e: number): number => 2 * patches * 9 * e;
const lpiParams = (e: number): number => 2 * (9 * e + e) + 2 * e;
/** SReT non-linear projection layer after each extra pass: LN + E→E→E MLP, residual α·x + β·F(x). */
const nllMacs = (n: number, e: number): number => 2 * n * e * e;
const nllParams = (e: number): number => 2 * e + 2 * (e * e + e) + 2;

/** Stem: linear patchify, or two 3×3 stride-2 convs (no bias, a norm each) then a linear patchify of p/4. */
function stem(spec: ArchSpec, patches: number, sink: Sink): void {
  const [h, w, ch] = spec.input;
  const p = spec.patch;
  const e = spec.embed;
  if (spec.stem === 'linear') {
    sink('patch_embed', patches * p * p * ch * e, p * p * ch * e + e);
    return;
  }
  const c1 = Math.ceil(e / 4);
  const c2 = Math.ceil(e / 2);
  const q = p / 4;
  sink('stem.conv1', (h / 2) * (w / 2) * 9 * ch * c1, 9 * ch * c1 + 2 * c1);
  sink('stem.conv2', (h / 4) * (w / 4) * 9 * c1 * c2, 9 * c1 * c2 + 2 * c2);
  sink('patch_embed', patches * q * q * c2 * e, q * q * c2 * e + e);
}

let accMacs = 0;
let accParams = 0;
const accumulate: Sink = (_layer, m, k) => {
  accMacs += m;
  accParams += k;
};

/**
 * Walk the network in order. With no sink it runs the allocation-free hot path (totals only);
 * with a sink it reports every layer.
 */
function walk(spec: ArchSpec, convention: Convention, sink: Sink | undefined): Cost {
  const e = spec.embed;
  const patches = (spec.input[0] / spec.patch) * (spec.input[1] / spec.patch);
  const cls = spec.readout === 'cls' ? 1 : 0;
  const clsCounted = convention === 'macs' ? cls : 0;
  const n = patches + clsCounted;
  const nt = patches + cls;
  const out = sink ?? accumulate;
  accMacs = 0;
  accParams = 0;
  let macs = 0;
  let params = 0;

  stem(spec, patches, out);
  if (sink) {
    if (cls) sink('cls_token', 0, e);
    if (spec.pos === 'learned') sink('pos_embed', 0, nt * e);
  } else {
    params += cls * e + (spec.pos === 'learned' ? nt * e : 0);
  }

  const blocks = spec.blocks;
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    if (b.op === 'identity') continue;
    const r = b.recursion ?? 1;
    const proj = projMacs(b, n, e);
    const mlpM = mlpMacs(n, e, b.mlp);
    const lpi = b.lpi === true;
    const lpiM = lpi ? lpiMacs(patches, e) : 0;
    for (let pass = 0; pass < r; pass++) {
      const g = b.groups ? b.groups[pass]! : 1;
      const mixing = mixingMacs(b, n, e, patches, clsCounted, g);
      const first = pass === 0;
      if (sink) {
        const tag = r > 1 ? `blocks.${i}.pass${pass}` : `blocks.${i}`;
        const mixP = first ? mixerParams(b, e, nt) : 0;
        sink(`${tag}.norm1`, 0, first ? 2 * e : 0);
        if (b.qkv > 0) sink(`${tag}.${b.attention}.qkv+proj`, proj, mixP);
        sink(`${tag}.${b.attention}.mixing${g > 1 ? ` (G=${g})` : ''}`, mixing, b.qkv > 0 ? 0 : mixP);
        if (b.lpi) sink(`${tag}.lpi`, lpiM, first ? lpiParams(e) : 0);
        sink(`${tag}.norm2`, 0, first ? 2 * e : 0);
        sink(`${tag}.mlp`, mlpM, first ? mlpParams(e, b.mlp) : 0);
        if (!first) sink(`${tag}.nll`, nllMacs(n, e), nllParams(e));
      } else {
        macs += proj + mixing + lpiM + mlpM;
        if (first) params += 4 * e + mixerParams(b, e, nt) + (lpi ? lpiParams(e) : 0) + mlpParams(e, b.mlp);
        else {
          macs += nllMacs(n, e);
          params += nllParams(e);
        }
      }
    }
  }

  const headTokens = convention === 'vitas' ? patches : 1;
  out('norm', 0, 2 * e);
  out('head', headTokens * e * spec.classes, e * spec.classes + spec.classes);
  return sink ? { macs: 0, params: 0 } : { macs: macs + accMacs, params: params + accParams };
}

/** Total MACs and parameters of a spec. */
export function costOf(spec: ArchSpec, convention: Convention = 'macs'): Cost {
  return walk(spec, convention, undefined);
}

export function macsOf(spec: ArchSpec, convention: Convention = 'macs'): number {
  return walk(spec, convention, undefined).macs;
}

export function paramsOf(spec: ArchSpec): number {
  return walk(spec, 'macs', undefined).params;
}

/** Per-layer rows in network order, and the totals. */
export function costReport(spec: ArchSpec, convention: Convention = 'macs'): { layers: LayerCost[]; total: Cost; convention: Convention } {
  const layers: LayerCost[] = [];
  const total = { macs: 0, params: 0 };
  walk(spec, convention, (layer, macs, params) => {
    layers.push({ layer, macs, params });
    total.macs += macs;
    total.params += params;
  });
  return { layers, total, convention };
}
