/**
 * The arch spec: one concrete network, self-contained and versioned (DESIGN §4).
 * Search exports it, retrain and `vitas flops` consume it.
 */

export const SPEC_VERSION = 1 as const;

export type Stem = 'linear' | 'conv';
export type PosEncoding = 'learned' | 'rope' | 'none';
export type Readout = 'cls' | 'mean';

/** Token mixers of DESIGN §6. */
export const ATTENTIONS = ['softmax', 'performer', 'linformer', 'nystrom', 'xnorm', 'fnet', 'mixer', 'dual'] as const;
export type Attention = (typeof ATTENTIONS)[number];

/** A transformer block: token mixer + MLP, optionally applied recursively (SReT). */
export interface AttnBlock {
  op: 'attn';
  attention: Attention;
  /** Head count; divides qkv/3. Mixers without heads (fnet, mixer) use 1. */
  heads: number;
  /** Total width of the q, k and v projections together (3 · heads · head dim). */
  qkv: number;
  /** Hidden width of the MLP. */
  mlp: number;
  /** SReT passes of the block's weights (1 = plain block). */
  recursion?: number;
  /** Sliced group attention: groups of patch tokens for each pass (length = recursion). */
  groups?: number[];
  /** Random features (performer), projected length k (linformer) or landmarks (nystrom). */
  features?: number;
  /** Token-mixing MLP width (mixer). */
  tokenMlp?: number;
  /** XCiT local patch interaction after the mixer. */
  lpi?: boolean;
  /** nystrom: the reference's depthwise convolution along the sequence on V, added to the output */
  conv?: boolean;
}

export interface IdentityBlock {
  op: 'identity';
}

export type BlockSpec = AttnBlock | IdentityBlock;

/** A class-attention layer (CaiT): only the class token queries [cls; patches]; its widths are searched like a block's. */
export interface ClassBlock {
  heads: number;
  /** q, k and v widths together (3 · heads · head dim) */
  qkv: number;
  mlp: number;
}

export interface ArchSpec {
  version: typeof SPEC_VERSION;
  /** [height, width, channels] */
  input: [number, number, number];
  classes: number;
  patch: number;
  stem: Stem;
  embed: number;
  pos: PosEncoding;
  blocks: BlockSpec[];
  readout: Readout;
  /** Dual-ViT: semantic tokens M (a square ≥ 4), pooled from the patch grid at the first `dual` block; required iff a block is `dual` */
  semantic?: number;
  /** CaiT: class-attention layers after the patch blocks (default 0); the class token joins only there */
  classAttention?: number;
  /** one per class-attention layer */
  classBlocks?: ClassBlock[];
  /** provenance written by search (cost, score, evaluator, seed, vitas version); not part of the network */
  meta?: Record<string, unknown>;
}

export function isActive(b: BlockSpec): b is AttnBlock {
  return b.op !== 'identity';
}

/** Count of non-identity blocks. */
export function depthOf(spec: ArchSpec): number {
  let d = 0;
  for (const b of spec.blocks) if (b.op !== 'identity') d++;
  return d;
}

export function patchGrid(spec: Pick<ArchSpec, 'input' | 'patch'>): [number, number] {
  return [Math.floor(spec.input[0] / spec.patch), Math.floor(spec.input[1] / spec.patch)];
}

/** The spec with every default written out and keys in a fixed order, so equal networks compare equal. */
export function canonicalSpec(spec: ArchSpec): ArchSpec {
  return {
    version: SPEC_VERSION,
    input: [spec.input[0], spec.input[1], spec.input[2]],
    classes: spec.classes,
    patch: spec.patch,
    stem: spec.stem,
    embed: spec.embed,
    pos: spec.pos,
    blocks: spec.blocks.map(canonicalBlock),
    readout: spec.readout,
    // written only when used, so the keys of specs without them do not change
    ...(spec.semantic !== undefined ? { semantic: spec.semantic } : {}),
    ...(spec.classAttention ? { classAttention: spec.classAttention, classBlocks: spec.classBlocks!.map((c) => ({ heads: c.heads, qkv: c.qkv, mlp: c.mlp })) } : {}),
  };
}

function canonicalBlock(b: BlockSpec): BlockSpec {
  if (b.op === 'identity') return { op: 'identity' };
  const r = b.recursion ?? 1;
  const out: AttnBlock = {
    op: 'attn',
    attention: b.attention,
    heads: b.heads,
    qkv: b.qkv,
    mlp: b.mlp,
    recursion: r,
    groups: b.groups ? [...b.groups] : new Array<number>(r).fill(1),
  };
  if (b.features !== undefined) out.features = b.features;
  if (b.tokenMlp !== undefined) out.tokenMlp = b.tokenMlp;
  if (b.lpi) out.lpi = true;
  if (b.conv) out.conv = true;
  return out;
}

/** A stable string key of the network (used to remove duplicates and to cache scores). */
export function specKey(spec: ArchSpec): string {
  return JSON.stringify(canonicalSpec(spec));
}

/** One readable line per spec for reports: stem, patch, embed, then each block's mixer and widths ("id" for an identity block). */
export function describeSpec(spec: ArchSpec): string {
  // identity blocks stay in place: which block positions run matters to a supernet's shared weights
  const blocks = spec.blocks.flatMap((b) => {
    if (b.op === 'identity') return ['id'];
    if (b.op !== 'attn') return [];
    // mixer and FNet have neither heads nor a q/k/v projection; mixer's token MLP has a width
    const mixing = b.attention === 'mixer' ? (b.tokenMlp ? ` t${b.tokenMlp}` : '') : b.attention === 'fnet' ? '' : ` h${b.heads} q${b.qkv}`;
    const rec = (b.recursion ?? 1) > 1 ? ` ×${b.recursion}` : '';
    return [`${b.attention}${mixing} m${b.mlp}${b.lpi ? ' +lpi' : ''}${rec}`];
  });
  return `${spec.stem} stem p${spec.patch} e${spec.embed}: ${blocks.join(' · ')}`;
}
