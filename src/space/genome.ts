/**
 * Genomes: a spec inside a space as a fixed-length vector of choice indices, and the seeded
 * operators on it (sampling, mutation, crossover). Every genome decodes to a valid spec that lies
 * inside its space; `encode` is the membership test.
 */
import { VitasError } from '../errors.js';
import { Rng } from './rng.js';
import type { ArchSpec, AttnBlock, BlockSpec } from './spec.js';
import { mlpChoices, mlpWidth, qkvChoices, qkvWidth, type SearchSpace } from './space.js';

export type Genome = number[];

/**
 * Global genes, then BLOCK_GENES + max recursion genes per block; then, only in spaces that have
 * them (so other spaces' genomes keep their layout), the semantic token count and the
 * class-attention count followed by CLASS_GENES per possible class-attention layer.
 */
const G_PATCH = 0, G_STEM = 1, G_POS = 2, G_READOUT = 3, G_EMBED = 4, G_DEPTH = 5, GLOBAL_GENES = 6;
const B_ACTIVE = 0, B_ATTN = 1, B_HEADS = 2, B_QKV = 3, B_MLP = 4, B_REC = 5, B_LPI = 6, B_FEAT = 7, B_TOK = 8, B_GROUPS = 9;
const C_HEADS = 0, C_QKV = 1, C_MLP = 2, CLASS_GENES = 3;

interface Shape {
  /** choices per gene */
  card: number[];
  perBlock: number;
  maxRec: number;
  /** index of the semantic-count gene, -1 without one */
  sem: number;
  /** index of the class-attention-count gene (its layers' genes follow), -1 without one */
  ca: number;
  /** class-attention layers the genome has genes for */
  maxL: number;
}

const shapes = new WeakMap<SearchSpace, Shape>();

function shapeOf(space: SearchSpace): Shape {
  let s = shapes.get(space);
  if (s) return s;
  const maxRec = Math.max(...space.recursion);
  const card = [
    space.patch.length,
    space.stem.length,
    space.pos.length,
    space.readout.length,
    space.embed.length,
    space.identity === 'tail' ? space.depth.max - space.depth.min + 1 : 1,
  ];
  const block = [
    space.identity === 'anywhere' ? 2 : 1,
    space.attention.length,
    space.heads.length,
    qkvChoices(space),
    mlpChoices(space),
    space.recursion.length,
    (space.lpi ?? [false]).length,
    space.features?.length ?? 1,
    space.tokenMlp?.length ?? 1,
    ...new Array<number>(maxRec).fill(space.groups.length),
  ];
  for (let i = 0; i < space.blocks; i++) card.push(...block);
  const sem = space.semantic ? card.push(space.semantic.length) - 1 : -1;
  const ca = space.classAttention ? card.push(space.classAttention.length) - 1 : -1;
  const maxL = Math.max(0, ...(space.classAttention ?? []));
  for (let j = 0; j < maxL; j++) card.push(space.heads.length, qkvChoices(space), mlpChoices(space));
  s = { card, perBlock: block.length, maxRec, sem, ca, maxL };
  shapes.set(space, s);
  return s;
}

export function genomeLength(space: SearchSpace): number {
  return shapeOf(space).card.length;
}

const blockBase = (sh: Shape, i: number): number => GLOBAL_GENES + i * sh.perBlock;

function isActiveGene(space: SearchSpace, g: Genome, sh: Shape, i: number): boolean {
  if (space.identity === 'anywhere') return g[blockBase(sh, i) + B_ACTIVE] === 1;
  return i < space.depth.min + g[G_DEPTH]!;
}

/** Zero genes that do not affect the network, and pull the depth into [min, max], so equal networks get equal genomes. */
function canonicalize(space: SearchSpace, g: Genome, rng: Rng): Genome {
  const sh = shapeOf(space);
  // the conv stem's two stride-2 convolutions need a patch size that is a multiple of 4
  if (space.stem[g[G_STEM]!] === 'conv' && space.patch[g[G_PATCH]!]! % 4 !== 0) g[G_STEM] = space.stem.indexOf('linear');
  if (space.identity === 'anywhere') {
    const active = (i: number): boolean => g[blockBase(sh, i) + B_ACTIVE] === 1;
    let count = 0;
    for (let i = 0; i < space.blocks; i++) if (active(i)) count++;
    // repair: switch random blocks on or off until the depth fits
    while (count < space.depth.min) {
      const off = [...Array(space.blocks).keys()].filter((i) => !active(i));
      const i = rng.pick(off);
      g[blockBase(sh, i) + B_ACTIVE] = 1;
      count++;
    }
    while (count > space.depth.max) {
      const on = [...Array(space.blocks).keys()].filter(active);
      g[blockBase(sh, rng.pick(on)) + B_ACTIVE] = 0;
      count--;
    }
  }
  for (let i = 0; i < space.blocks; i++) {
    const b = blockBase(sh, i);
    if (!isActiveGene(space, g, sh, i)) {
      for (let k = 1; k < sh.perBlock; k++) g[b + k] = 0;
      continue;
    }
    const attention = space.attention[g[b + B_ATTN]!]!;
    if (attention === 'fnet' || attention === 'mixer') g[b + B_HEADS] = g[b + B_QKV] = 0;
    if (!(attention === 'performer' || attention === 'linformer' || attention === 'nystrom')) g[b + B_FEAT] = 0;
    if (attention !== 'mixer') g[b + B_TOK] = 0;
    const r = space.recursion[g[b + B_REC]!]!;
    for (let k = 0; k < sh.maxRec; k++) if (k >= r || attention !== 'softmax') g[b + B_GROUPS + k] = 0;
  }
  if (sh.sem >= 0 && !hasDual(space, g, sh)) g[sh.sem] = 0;
  if (sh.ca >= 0) {
    // a mean-readout subnet has no class token to attend with (the space then holds L = 0)
    if (space.readout[g[G_READOUT]!] !== 'cls') g[sh.ca] = space.classAttention!.indexOf(0);
    const L = space.classAttention![g[sh.ca]!]!;
    for (let k = sh.ca + 1 + L * CLASS_GENES; k < sh.card.length; k++) g[k] = 0;
  }
  return g;
}

function hasDual(space: SearchSpace, g: Genome, sh: Shape): boolean {
  for (let i = 0; i < space.blocks; i++) if (isActiveGene(space, g, sh, i) && space.attention[g[blockBase(sh, i) + B_ATTN]!] === 'dual') return true;
  return false;
}

export function decode(space: SearchSpace, g: Genome): ArchSpec {
  const sh = shapeOf(space);
  if (g.length !== sh.card.length) throw new VitasError(`genome: length ${g.length}, space "${space.name}" needs ${sh.card.length}`);
  const embed = space.embed[g[G_EMBED]!]!;
  const blocks: BlockSpec[] = [];
  const n = space.identity === 'tail' ? space.depth.min + g[G_DEPTH]! : space.blocks;
  for (let i = 0; i < n; i++) {
    if (!isActiveGene(space, g, sh, i)) {
      blocks.push({ op: 'identity' });
      continue;
    }
    const b = blockBase(sh, i);
    const attention = space.attention[g[b + B_ATTN]!]!;
    const noQkv = attention === 'fnet' || attention === 'mixer';
    const heads = noQkv ? 1 : space.heads[g[b + B_HEADS]!]!;
    const recursion = space.recursion[g[b + B_REC]!]!;
    const groups: number[] = [];
    for (let k = 0; k < recursion; k++) groups.push(attention === 'softmax' ? space.groups[g[b + B_GROUPS + k]!]! : 1);
    const block: AttnBlock = {
      op: 'attn',
      attention,
      heads,
      qkv: noQkv ? 0 : qkvWidth(space, g[b + B_QKV]!, heads),
      mlp: mlpWidth(space, g[b + B_MLP]!, embed),
      recursion,
      groups,
    };
    if (attention === 'performer' || attention === 'linformer' || attention === 'nystrom') block.features = space.features![g[b + B_FEAT]!]!;
    if (attention === 'mixer') block.tokenMlp = space.tokenMlp![g[b + B_TOK]!]!;
    if ((space.lpi ?? [false])[g[b + B_LPI]!]) block.lpi = true;
    blocks.push(block);
  }
  const spec: ArchSpec = {
    version: 1,
    input: [...space.input],
    classes: space.classes,
    patch: space.patch[g[G_PATCH]!]!,
    stem: space.stem[g[G_STEM]!]!,
    embed,
    pos: space.pos[g[G_POS]!]!,
    blocks,
    readout: space.readout[g[G_READOUT]!]!,
  };
  if (blocks.some((b) => b.op === 'attn' && b.attention === 'dual')) spec.semantic = space.semantic![g[sh.sem]!]!;
  const L = sh.ca >= 0 ? space.classAttention![g[sh.ca]!]! : 0;
  if (L > 0) {
    spec.classAttention = L;
    spec.classBlocks = Array.from({ length: L }, (_, j) => {
      const c = sh.ca + 1 + j * CLASS_GENES;
      const heads = space.heads[g[c + C_HEADS]!]!;
      return { heads, qkv: qkvWidth(space, g[c + C_QKV]!, heads), mlp: mlpWidth(space, g[c + C_MLP]!, embed) };
    });
  }
  return spec;
}

/** The genome of a spec; throws a VitasError naming the first field that lies outside the space. */
export function encode(space: SearchSpace, spec: ArchSpec, where = 'spec'): Genome {
  const sh = shapeOf(space);
  const g = new Array<number>(sh.card.length).fill(0);
  const out = (path: string, value: unknown, allowed: readonly unknown[]): never => {
    throw new VitasError(`${where}: ${path}: ${JSON.stringify(value)} is outside space "${space.name}"; allowed: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`);
  };
  const index = <T>(path: string, value: T, allowed: readonly T[]): number => {
    const i = allowed.indexOf(value);
    return i >= 0 ? i : out(path, value, allowed);
  };
  if (spec.input.some((v, i) => v !== space.input[i])) out('input', spec.input, [space.input]);
  if (spec.classes !== space.classes) out('classes', spec.classes, [space.classes]);
  g[G_PATCH] = index('patch', spec.patch, space.patch);
  g[G_STEM] = index('stem', spec.stem, space.stem);
  g[G_POS] = index('pos', spec.pos, space.pos);
  g[G_READOUT] = index('readout', spec.readout, space.readout);
  g[G_EMBED] = index('embed', spec.embed, space.embed);
  const depth = spec.blocks.filter((b) => b.op !== 'identity').length;
  if (depth < space.depth.min || depth > space.depth.max) out('blocks', `depth ${depth}`, [`depth ${space.depth.min}–${space.depth.max}`]);
  if (space.identity === 'tail') {
    if (spec.blocks.some((b) => b.op === 'identity')) throw new VitasError(`${where}: blocks: space "${space.name}" has no identity blocks (depth is chosen by dropping the last blocks)`);
    g[G_DEPTH] = depth - space.depth.min;
  } else if (spec.blocks.length !== space.blocks) {
    throw new VitasError(`${where}: blocks: ${spec.blocks.length} blocks; space "${space.name}" has exactly ${space.blocks} (identity where skipped)`);
  }
  spec.blocks.forEach((blk, i) => {
    const b = blockBase(sh, i);
    const path = `blocks[${i}]`;
    if (blk.op === 'identity') return;
    g[b + B_ACTIVE] = space.identity === 'anywhere' ? 1 : 0;
    g[b + B_ATTN] = index(`${path}.attention`, blk.attention, space.attention);
    const noQkv = blk.attention === 'fnet' || blk.attention === 'mixer';
    if (!noQkv) {
      g[b + B_HEADS] = index(`${path}.heads`, blk.heads, space.heads);
      const widths = Array.from({ length: qkvChoices(space) }, (_, k) => qkvWidth(space, k, blk.heads));
      g[b + B_QKV] = index(`${path}.qkv`, blk.qkv, widths);
    }
    const mlps = Array.from({ length: mlpChoices(space) }, (_, k) => mlpWidth(space, k, spec.embed));
    g[b + B_MLP] = index(`${path}.mlp`, blk.mlp, mlps);
    const r = blk.recursion ?? 1;
    g[b + B_REC] = index(`${path}.recursion`, r, space.recursion);
    g[b + B_LPI] = index(`${path}.lpi`, blk.lpi ?? false, space.lpi ?? [false]);
    if (blk.features !== undefined) g[b + B_FEAT] = index(`${path}.features`, blk.features, space.features ?? []);
    if (blk.tokenMlp !== undefined) g[b + B_TOK] = index(`${path}.tokenMlp`, blk.tokenMlp, space.tokenMlp ?? []);
    const groups = blk.groups ?? new Array<number>(r).fill(1);
    if (blk.attention === 'softmax') groups.forEach((G, k) => (g[b + B_GROUPS + k] = index(`${path}.groups[${k}]`, G, space.groups)));
  });
  if (spec.semantic !== undefined) g[sh.sem] = index('semantic', spec.semantic, space.semantic ?? []);
  const L = spec.classAttention ?? 0;
  const ca = index('classAttention', L, space.classAttention ?? [0]);
  if (sh.ca >= 0) g[sh.ca] = ca;
  spec.classBlocks?.forEach((cb, j) => {
    const c = sh.ca + 1 + j * CLASS_GENES;
    const path = `classBlocks[${j}]`;
    g[c + C_HEADS] = index(`${path}.heads`, cb.heads, space.heads);
    g[c + C_QKV] = index(`${path}.qkv`, cb.qkv, Array.from({ length: qkvChoices(space) }, (_, k) => qkvWidth(space, k, cb.heads)));
    g[c + C_MLP] = index(`${path}.mlp`, cb.mlp, Array.from({ length: mlpChoices(space) }, (_, k) => mlpWidth(space, k, spec.embed)));
  });
  return g;
}

/** Does the spec lie inside the space? */
export function contains(space: SearchSpace, spec: ArchSpec): boolean {
  try {
    encode(space, spec);
    return true;
  } catch {
    return false;
  }
}

export interface SampleOptions {
  /** Probability that a block is identity (spaces with identity "anywhere"); default 1 / (head choices + 1). */
  pId?: number;
}

/** Uniform sampling's identity probability: identity is one more choice beside the head counts. */
export function defaultIdentityProbability(space: SearchSpace): number {
  return 1 / (space.heads.length + 1);
}

export function sampleGenome(space: SearchSpace, rng: Rng, opts: SampleOptions = {}): Genome {
  const sh = shapeOf(space);
  const pId = opts.pId ?? defaultIdentityProbability(space);
  const g = sh.card.map((c) => rng.int(c));
  if (space.identity === 'anywhere') for (let i = 0; i < space.blocks; i++) g[blockBase(sh, i) + B_ACTIVE] = rng.next() < pId ? 0 : 1;
  return canonicalize(space, g, rng);
}

export function sampleSpec(space: SearchSpace, rng: Rng, opts: SampleOptions = {}): ArchSpec {
  return decode(space, sampleGenome(space, rng, opts));
}

export interface MutationOptions {
  /** per-gene probability (DESIGN §7: 0.2) */
  prob?: number;
  /** for depth and embed genes (0.4) */
  depthEmbedProb?: number;
}

export function mutateGenome(space: SearchSpace, parent: Genome, rng: Rng, opts: MutationOptions = {}): Genome {
  const sh = shapeOf(space);
  const p = opts.prob ?? 0.2;
  const pDeep = opts.depthEmbedProb ?? 0.4;
  const g = [...parent];
  for (let k = 0; k < g.length; k++) {
    const isDepthOrEmbed = k === G_EMBED || k === G_DEPTH || (k >= GLOBAL_GENES && (k - GLOBAL_GENES) % sh.perBlock === B_ACTIVE);
    if (sh.card[k]! > 1 && rng.next() < (isDepthOrEmbed ? pDeep : p)) g[k] = rng.int(sh.card[k]!);
  }
  return canonicalize(space, g, rng);
}

export function mutate(space: SearchSpace, parent: ArchSpec, rng: Rng, opts: MutationOptions = {}): ArchSpec {
  return decode(space, mutateGenome(space, encode(space, parent), rng, opts));
}

/** Uniform crossover: each global gene, and each whole block, from either parent. */
export function crossoverGenome(space: SearchSpace, a: Genome, b: Genome, rng: Rng): Genome {
  const sh = shapeOf(space);
  const g = new Array<number>(a.length);
  for (let k = 0; k < GLOBAL_GENES; k++) g[k] = rng.next() < 0.5 ? a[k]! : b[k]!;
  for (let i = 0; i < space.blocks; i++) {
    const from = rng.next() < 0.5 ? a : b;
    const base = blockBase(sh, i);
    for (let k = 0; k < sh.perBlock; k++) g[base + k] = from[base + k]!;
  }
  // the semantic count and the class-attention count like global genes, each class-attention layer whole
  for (const k of [sh.sem, sh.ca]) if (k >= 0) g[k] = rng.next() < 0.5 ? a[k]! : b[k]!;
  for (let j = 0; j < sh.maxL; j++) {
    const from = rng.next() < 0.5 ? a : b;
    const base = sh.ca + 1 + j * CLASS_GENES;
    for (let k = 0; k < CLASS_GENES; k++) g[base + k] = from[base + k]!;
  }
  return canonicalize(space, g, rng);
}

export function crossover(space: SearchSpace, a: ArchSpec, b: ArchSpec, rng: Rng): ArchSpec {
  return decode(space, crossoverGenome(space, encode(space, a), encode(space, b), rng));
}
