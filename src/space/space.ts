/**
 * Search spaces (DESIGN §4): the choices a subnet may take, with their maxima, from which the
 * supernet is built. Plain data + schema; sampling and genomes live in genome.ts.
 */
import { ATTENTIONS, type Attention, type PosEncoding, type Readout, type Stem } from './spec.js';
import { VitasError } from '../errors.js';
import { ajv, check } from './validate.js';

/** Absolute widths, or widths derived per subnet: qkv = 3·heads·headDim, mlp = ratio·embed. */
export type QkvChoice = number[] | { headDim: number[] };
export type MlpChoice = number[] | { ratio: number[] };

export interface SearchSpace {
  name: string;
  description?: string;
  input: [number, number, number];
  classes: number;
  patch: number[];
  stem: Stem[];
  pos: PosEncoding[];
  readout: Readout[];
  embed: number[];
  /** Blocks in the supernet. */
  blocks: number;
  /** Non-identity blocks a subnet may have. */
  depth: { min: number; max: number };
  /** `anywhere`: any block may be identity (ViTAS); `tail`: the first `depth` blocks run (AutoFormer). */
  identity: 'anywhere' | 'tail';
  attention: Attention[];
  heads: number[];
  qkv: QkvChoice;
  mlp: MlpChoice;
  recursion: number[];
  groups: number[];
  /** performer features / linformer k / nystrom landmarks */
  features?: number[];
  tokenMlp?: number[];
  lpi?: boolean[];
  /** Dual-ViT's semantic token counts M (squares ≥ 4), one per subnet; needed when `dual` is searchable */
  semantic?: number[];
  /** class-attention layer counts L (CaiT); a layer's heads, qkv and MLP are chosen from `heads`, `qkv`, `mlp` */
  classAttention?: number[];
}

const ints = { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, uniqueItems: true } as const;

export const searchSpaceSchema = {
  $id: 'https://vitas.dev/schema/search-space-v1.json',
  title: 'vitas search space',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'input', 'classes', 'patch', 'stem', 'pos', 'readout', 'embed', 'blocks', 'depth', 'identity', 'attention', 'heads', 'qkv', 'mlp', 'recursion', 'groups'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    input: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 3, maxItems: 3 },
    classes: { type: 'integer', minimum: 2 },
    patch: ints,
    stem: { type: 'array', items: { enum: ['linear', 'conv'] }, minItems: 1, uniqueItems: true },
    pos: { type: 'array', items: { enum: ['learned', 'rope', 'none'] }, minItems: 1, uniqueItems: true },
    readout: { type: 'array', items: { enum: ['cls', 'mean'] }, minItems: 1, uniqueItems: true },
    embed: ints,
    blocks: { type: 'integer', minimum: 1 },
    depth: {
      type: 'object',
      additionalProperties: false,
      required: ['min', 'max'],
      properties: { min: { type: 'integer', minimum: 1 }, max: { type: 'integer', minimum: 1 } },
    },
    identity: { enum: ['anywhere', 'tail'] },
    attention: { type: 'array', items: { enum: [...ATTENTIONS] }, minItems: 1, uniqueItems: true },
    heads: ints,
    qkv: {
      oneOf: [
        ints,
        { type: 'object', additionalProperties: false, required: ['headDim'], properties: { headDim: ints } },
      ],
    },
    mlp: {
      oneOf: [
        ints,
        {
          type: 'object',
          additionalProperties: false,
          required: ['ratio'],
          properties: { ratio: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1, uniqueItems: true } },
        },
      ],
    },
    recursion: ints,
    groups: ints,
    features: ints,
    tokenMlp: ints,
    lpi: { type: 'array', items: { type: 'boolean' }, minItems: 1, uniqueItems: true },
    semantic: ints,
    classAttention: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1, uniqueItems: true },
  },
} as const;

const validateSchema = ajv.compile(searchSpaceSchema);

export function qkvWidth(space: SearchSpace, index: number, heads: number): number {
  return Array.isArray(space.qkv) ? space.qkv[index]! : 3 * heads * space.qkv.headDim[index]!;
}

export function qkvChoices(space: SearchSpace): number {
  return Array.isArray(space.qkv) ? space.qkv.length : space.qkv.headDim.length;
}

export function mlpWidth(space: SearchSpace, index: number, embed: number): number {
  return Array.isArray(space.mlp) ? space.mlp[index]! : Math.round(space.mlp.ratio[index]! * embed);
}

export function mlpChoices(space: SearchSpace): number {
  return Array.isArray(space.mlp) ? space.mlp.length : space.mlp.ratio.length;
}

/** Widest value each dimension can take: the supernet allocates weights at these. */
export function spaceMaxima(space: SearchSpace): { embed: number; qkv: number; mlp: number; heads: number; recursion: number; tokenMlp: number; classAttention: number } {
  const embed = Math.max(...space.embed);
  const heads = Math.max(...space.heads);
  const qkv = Array.isArray(space.qkv) ? Math.max(...space.qkv) : 3 * heads * Math.max(...space.qkv.headDim);
  const mlp = Array.isArray(space.mlp) ? Math.max(...space.mlp) : Math.round(Math.max(...space.mlp.ratio) * embed);
  return { embed, qkv, mlp, heads, recursion: Math.max(...space.recursion), tokenMlp: Math.max(0, ...(space.tokenMlp ?? [])), classAttention: Math.max(0, ...(space.classAttention ?? [])) };
}

/** Check a parsed value as a search space; one-line errors with the JSON path. */
export function validateSpace(data: unknown, where = 'space'): SearchSpace {
  const s = check<SearchSpace>(validateSchema, data, where);
  const fail = (path: string, msg: string): never => {
    throw new VitasError(`${where}: ${path}: ${msg}`);
  };
  const [h, w] = s.input;
  let minPatches = Infinity;
  for (const [i, p] of s.patch.entries()) {
    if (h % p !== 0 || w % p !== 0) fail(`patch[${i}]`, `${p} does not divide the input ${h}×${w}`);
    minPatches = Math.min(minPatches, (h / p) * (w / p));
  }
  if (!s.stem.includes('linear')) for (const [i, p] of s.patch.entries()) if (p % 4 !== 0) fail(`patch[${i}]`, `${p} must be a multiple of 4: stem "conv" is the only stem`);
  if (s.stem.includes('conv') && !s.patch.some((p) => p % 4 === 0)) fail('stem', '"conv" needs a patch size that is a multiple of 4 (two stride-2 convolutions); subnets with other patch sizes use "linear"');
  if (s.depth.min > s.depth.max) fail('depth', `min ${s.depth.min} exceeds max ${s.depth.max}`);
  if (s.depth.max > s.blocks) fail('depth.max', `${s.depth.max} exceeds blocks = ${s.blocks}`);
  if (Array.isArray(s.qkv)) {
    for (const [i, q] of s.qkv.entries()) {
      if (q % 3 !== 0) fail(`qkv[${i}]`, `${q} must be a multiple of 3`);
      for (const hd of s.heads) if ((q / 3) % hd !== 0) fail(`qkv[${i}]`, `heads ${hd} does not divide qkv/3 = ${q / 3}; every head count must divide every qkv/3`);
    }
  }
  if (!Array.isArray(s.mlp)) {
    for (const [i, r] of s.mlp.ratio.entries())
      for (const e of s.embed) if (!Number.isInteger(r * e)) fail(`mlp.ratio[${i}]`, `${r} × embed ${e} is not a whole width`);
  }
  for (const [i, g] of s.groups.entries()) if (g > minPatches) fail(`groups[${i}]`, `${g} groups exceed the ${minPatches} patch tokens of the largest patch`);
  if (s.groups.some((g) => g > 1) && !s.attention.includes('softmax')) fail('groups', 'sliced group attention needs attention "softmax" in the space');
  const needsFeatures = s.attention.some((a) => a === 'performer' || a === 'linformer' || a === 'nystrom');
  if (needsFeatures && !s.features) fail('features', 'is required when performer, linformer or nystrom is searchable');
  if (s.attention.includes('mixer') && !s.tokenMlp) fail('tokenMlp', 'is required when mixer is searchable');
  if (s.attention.includes('dual') && !s.semantic) fail('semantic', 'is required when dual is searchable (semantic token counts, squares ≥ 4 such as [4, 16])');
  for (const [i, m] of (s.semantic ?? []).entries()) {
    const side = Math.round(Math.sqrt(m));
    if (m < 4 || side * side !== m) fail(`semantic[${i}]`, `${m} must be a square ≥ 4 (the patch grid is pooled to √M×√M cells)`);
    for (const p of s.patch) if (side > Math.min(h / p, w / p)) fail(`semantic[${i}]`, `${m} needs a ${side}×${side} pool; patch ${p} gives a ${h / p}×${w / p} grid`);
  }
  const ca = s.classAttention ?? [0];
  if (ca.some((l) => l > 0)) {
    if (!s.readout.includes('cls')) fail('classAttention', 'needs readout "cls" in the space (the class token queries the patches)');
    if (s.readout.includes('mean') && !ca.includes(0)) fail('classAttention', 'must include 0 when readout "mean" is searchable (a mean-readout subnet has no class token)');
  }
  if (s.pos.includes('rope')) {
    for (const hd of s.heads) {
      const dims = Array.isArray(s.qkv) ? s.qkv.map((q) => q / 3 / hd) : s.qkv.headDim;
      if (dims.some((d) => d % 4 !== 0)) fail('pos', `"rope" needs head dims that are multiples of 4 (two axes of rotated pairs); heads ${hd} gives one that is not`);
    }
  }
  return s;
}

export function parseSpace(text: string, where: string): SearchSpace {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new VitasError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  return validateSpace(data, where);
}
