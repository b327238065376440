/** Registries of preset search spaces and preset networks, as data (timm-style). */
import { VitasError } from '../errors.js';
import type { ArchSpec, AttnBlock } from './spec.js';
import { validateSpace, type SearchSpace } from './space.js';

const steps = (max: number, n: number): number[] => Array.from({ length: n }, (_, i) => Math.round((max * (i + 1)) / n));
const multiples = (step: number, max: number): number[] => Array.from({ length: max / step }, (_, i) => step * (i + 1));

const RAW_SPACES: Record<string, SearchSpace> = {
  // ViTAS 1G space: identity is one more choice of every block; widths in 10 % steps of their maxima.
  'vitas-1g': {
    name: 'vitas-1g',
    description: 'ViTAS 1G space (ImageNet 224²): patch {14,16,32}, embed ≤ 384, 16 blocks of {3,6,12,16} heads or identity, qkv and MLP ≤ 1440',
    input: [224, 224, 3],
    classes: 1000,
    patch: [14, 16, 32],
    stem: ['linear'],
    pos: ['learned'],
    readout: ['cls'],
    embed: steps(384, 10),
    blocks: 16,
    depth: { min: 1, max: 16 },
    identity: 'anywhere',
    attention: ['softmax'],
    heads: [3, 6, 12, 16],
    qkv: multiples(144, 1440),
    mlp: multiples(144, 1440),
    recursion: [1],
    groups: [1],
  },
  'autoformer-t': {
    name: 'autoformer-t',
    description: 'AutoFormer-T space: embed {192,216,240}, heads {3,4} of dim 64, MLP ratio {3.5,4}, depth 12–14',
    input: [224, 224, 3],
    classes: 1000,
    patch: [16],
    stem: ['linear'],
    pos: ['learned'],
    readout: ['cls'],
    embed: [192, 216, 240],
    blocks: 14,
    depth: { min: 12, max: 14 },
    identity: 'tail',
    attention: ['softmax'],
    heads: [3, 4],
    qkv: { headDim: [64] },
    mlp: { ratio: [3.5, 4] },
    recursion: [1],
    groups: [1],
  },
  'autoformer-s': {
    name: 'autoformer-s',
    description: 'AutoFormer-S space: embed {320,384,448}, heads {5,6,7} of dim 64, MLP ratio {3,3.5,4}, depth 12–14',
    input: [224, 224, 3],
    classes: 1000,
    patch: [16],
    stem: ['linear'],
    pos: ['learned'],
    readout: ['cls'],
    embed: [320, 384, 448],
    blocks: 14,
    depth: { min: 12, max: 14 },
    identity: 'tail',
    attention: ['softmax'],
    heads: [5, 6, 7],
    qkv: { headDim: [64] },
    mlp: { ratio: [3, 3.5, 4] },
    recursion: [1],
    groups: [1],
  },
  'autoformer-b': {
    name: 'autoformer-b',
    description: 'AutoFormer-B space: embed {528,576,624}, heads {8,9,10} of dim 64, MLP ratio {3,3.5,4}, depth 14–16',
    input: [224, 224, 3],
    classes: 1000,
    patch: [16],
    stem: ['linear'],
    pos: ['learned'],
    readout: ['cls'],
    embed: [528, 576, 624],
    blocks: 16,
    depth: { min: 14, max: 16 },
    identity: 'tail',
    attention: ['softmax'],
    heads: [8, 9, 10],
    qkv: { headDim: [64] },
    mlp: { ratio: [3, 3.5, 4] },
    recursion: [1],
    groups: [1],
  },
  // CPU-sized space for 28×28×1 data (Fashion-MNIST), with SReT recursion and sliced groups.
  fmnist: {
    name: 'fmnist',
    description: 'CPU-sized space for 28×28×1: patch {4,7}, embed 32–96, ≤ 8 blocks of {1,2,4} heads or identity, recursion {1,2}, groups {1,2,4}',
    input: [28, 28, 1],
    classes: 10,
    patch: [4, 7],
    stem: ['linear'],
    pos: ['learned'],
    readout: ['cls'],
    embed: [32, 48, 64, 80, 96],
    blocks: 8,
    depth: { min: 1, max: 8 },
    identity: 'anywhere',
    attention: ['softmax'],
    heads: [1, 2, 4],
    qkv: multiples(24, 288),
    mlp: multiples(32, 384),
    recursion: [1, 2],
    groups: [1, 2, 4],
  },
  // The same data with every runnable operator of the catalogue as a search choice (Vision
  // X-formers, UFO-ViT's XNorm, LPI and class attention, Dual-ViT's dual pathway), the conv stem and the
  // position encodings. qkv in multiples of 48 keeps every head dim a multiple of 4 (RoPE's two axes
  // of pairs); the conv stem needs patch 4; 16 semantic tokens fit patch 7's 4×4 grid.
  'fmnist-x': {
    name: 'fmnist-x',
    description: 'fmnist with the operator catalogue: patch {2,4,7}, stem {linear,conv}, pos {learned,rope,none}, attention {softmax,performer,linformer,nystrom,xnorm,fnet,mixer,dual}, semantic {4,16}, class attention {0,1,2}, lpi {false,true}',
    input: [28, 28, 1],
    classes: 10,
    patch: [2, 4, 7],
    stem: ['linear', 'conv'],
    pos: ['learned', 'rope', 'none'],
    readout: ['cls'],
    embed: [32, 48, 64, 80, 96],
    blocks: 8,
    depth: { min: 1, max: 8 },
    identity: 'anywhere',
    attention: ['softmax', 'performer', 'linformer', 'nystrom', 'xnorm', 'fnet', 'mixer', 'dual'],
    heads: [1, 2, 4],
    qkv: multiples(48, 288),
    mlp: multiples(32, 384),
    recursion: [1, 2],
    groups: [1, 2, 4],
    features: [8, 16, 32],
    tokenMlp: [32, 64, 128],
    lpi: [false, true],
    semantic: [4, 16],
    classAttention: [0, 1, 2],
  },
  // A compact catalogue space for the one-command Fashion-MNIST recipe (issue 15): the operators
  // that paid off on this data in the stand-alone table (conv stem, LPI, mixing by MLP) around a
  // 12M-MAC budget, with the largest subnet ~2× the budget so a sandwich step stays cheap on CPU.
  'fmnist-c': {
    name: 'fmnist-c',
    description: 'compact catalogue space for 28×28×1 around 12M MACs: conv stem, patch 4, embed {48,64,80}, 2–6 blocks of softmax or mixer, each with LPI, qkv ≤ 192, MLP ≤ 256',
    input: [28, 28, 1],
    classes: 10,
    patch: [4],
    stem: ['conv'],
    pos: ['learned'],
    readout: ['cls'],
    embed: [48, 64, 80],
    blocks: 6,
    depth: { min: 2, max: 6 },
    identity: 'anywhere',
    attention: ['softmax', 'mixer'],
    heads: [2, 4],
    qkv: multiples(48, 192),
    mlp: multiples(64, 256),
    recursion: [1],
    groups: [1],
    tokenMlp: [32, 64],
    // LPI always on: as a choice, subnets without it lost up to 55 points of inherited accuracy
    // (the shared weights learn to expect it; RESULTS.md "Issue 15")
    lpi: [true],
  },
  // The ablations' space: every choice ViTAS's ablations vary (patch sizes for private class
  // tokens, head counts for private attention, SReT recursion and groups, depth for identity
  // search), sized like fmnist-c so that a sandwich step is cheap (fmnist's largest is ~9× the
  // budget). Linear stem: the conv stem needs patch sizes that are multiples of 4.
  'fmnist-a': {
    name: 'fmnist-a',
    description: 'the ablations\' space for 28×28×1 around 12M MACs: linear stem, patch {4,7}, embed {48,64}, 2–4 blocks of {1,2,4} heads (LPI in each), recursion {1,2}, groups {1,2}, qkv ≤ 192, MLP ≤ 256',
    input: [28, 28, 1],
    classes: 10,
    patch: [4, 7],
    stem: ['linear'],
    pos: ['learned'],
    readout: ['cls'],
    embed: [48, 64],
    blocks: 4,
    depth: { min: 2, max: 4 },
    identity: 'anywhere',
    attention: ['softmax'],
    heads: [1, 2, 4],
    qkv: multiples(48, 192),
    mlp: multiples(64, 256),
    recursion: [1, 2],
    groups: [1, 2],
    lpi: [true],
  },
};

export const SPACES: Readonly<Record<string, SearchSpace>> = Object.fromEntries(
  Object.entries(RAW_SPACES).map(([k, s]) => [k, validateSpace(s, `preset space ${k}`)]),
);

export function presetSpace(name: string): SearchSpace {
  const s = SPACES[name];
  if (!s) throw new VitasError(`unknown space "${name}"; presets: ${Object.keys(SPACES).join(', ')}`);
  return s;
}

function deit(embed: number, heads: number, depth: number): ArchSpec {
  const block: AttnBlock = { op: 'attn', attention: 'softmax', heads, qkv: 3 * embed, mlp: 4 * embed };
  return {
    version: 1,
    input: [224, 224, 3],
    classes: 1000,
    patch: 16,
    stem: 'linear',
    embed,
    pos: 'learned',
    blocks: Array.from({ length: depth }, () => ({ ...block })),
    readout: 'cls',
  };
}

const ARCHS: Record<string, () => ArchSpec> = {
  'deit-tiny': () => deit(192, 3, 12),
  'deit-small': () => deit(384, 6, 12),
  'deit-base': () => deit(768, 12, 12),
  // ViTAS-C (DESIGN §9): patch 16, embed 230, 12 blocks of 3 heads, qkv 432, MLP 720
  'vitas-c': () => {
    const s = deit(230, 3, 12);
    s.blocks = s.blocks.map(() => ({ op: 'attn', attention: 'softmax', heads: 3, qkv: 432, mlp: 720 }));
    return s;
  },
};

export const ARCH_PRESETS: readonly string[] = Object.keys(ARCHS);

export function presetArch(name: string): ArchSpec {
  const make = ARCHS[name];
  if (!make) throw new VitasError(`--preset: unknown network "${name}"; presets: ${ARCH_PRESETS.join(', ')}`);
  return make();
}
