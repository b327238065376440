/**
 * The vocabulary every operator declaration is written in (pure: no tensors). An operator states
 * its parameters once — name, shape for the subnet at hand, init, weight decay and its sharing rule
 * in the supernet — together with its MACs and the activations a training step keeps. The cost
 * model, the supernet's allocation, the standalone model and the memory guard are all derived from
 * these declarations (src/space/operators/network.ts walks them).
 */
import type { ArchSpec, AttnBlock } from '../spec.js';

/**
 * What makes a parameter private in the supernet (otherwise one tensor at the space's maxima serves
 * every subnet through a slice):
 * - `patch`: its shape depends on the token count (patch embedding, Linformer's E, Mixer's token MLP);
 * - `patch-token`: ViTAS's private class token and position embedding (an ablation can share them);
 * - `heads`: a per-head parameter (XNorm's γ, Nyström's conv);
 * - `heads-qk`: ViTAS's private attention maps: Q and K per head count (an ablation can share them);
 * - `groups-qk`: Q and K per SReT group count of a softmax block (its largest over the passes), so
 *   grouped and global attention learn their own maps (off unless a recipe asks: not in ViTAS);
 * - `semantic`: its shape depends on the semantic token count M (Dual-ViT's learned queries).
 */
export type Share = 'patch' | 'patch-token' | 'heads' | 'heads-qk' | 'groups-qk' | 'semantic';

/**
 * `normal`: truncated normal, std 0.02; `seq`: normal, std 1/√rows (a projection along the sequence);
 * `zeros`, `ones`; `features`: fixed random features drawn from the seed (a buffer, never trained).
 */
export type Init = 'normal' | 'seq' | 'zeros' | 'ones' | 'features';

export interface Kind {
  readonly init: Init;
  /** AdamW decays it (weights), or not (biases, norms, tokens, position embeddings, scalars) */
  readonly decay: boolean;
  readonly share: readonly Share[];
  /** false for buffers (Performer's Ω): saved with a model, never updated */
  readonly trainable: boolean;
  /**
   * the axis that indexes the tokens, class token first (position table, Linformer's E, Mixer's token
   * MLP): a subnet whose blocks hold no class token starts it at index 1, so patch j keeps its index
   */
  readonly tokenAxis?: 0 | 1;
  /**
   * a BatchNorm running statistic (mean or variance per channel): not trained and not counted as a
   * parameter, but stored, sliced with its channels like a weight, updated by training steps and
   * recalibration, and saved with a model
   */
  readonly running?: boolean;
}

const kind = (init: Init, decay: boolean, share: readonly Share[] = [], trainable = true): Kind => ({ init, decay, share, trainable });

export const WEIGHT = kind('normal', true);
export const BIAS = kind('zeros', false);
export const GAMMA = kind('ones', false);
export const BETA = kind('zeros', false);
export const SCALAR = kind('ones', false);
export const PATCH_WEIGHT = kind('normal', true, ['patch']);
export const PATCH_BIAS = kind('zeros', false, ['patch']);
export const QK_WEIGHT = kind('normal', true, ['heads-qk', 'groups-qk']);
export const QK_BIAS = kind('zeros', false, ['heads-qk', 'groups-qk']);
export const TOKEN = kind('normal', false, ['patch-token']);
export const POS: Kind = { ...kind('normal', false, ['patch-token']), tokenAxis: 0 };
export const SEQ_WEIGHT: Kind = { ...kind('seq', true, ['patch']), tokenAxis: 0 };
export const TOKEN_ROWS: Kind = { ...PATCH_WEIGHT, tokenAxis: 0 };
export const TOKEN_COLS: Kind = { ...PATCH_WEIGHT, tokenAxis: 1 };
export const TOKEN_BIAS: Kind = { ...PATCH_BIAS, tokenAxis: 0 };
export const HEAD_SCALE = kind('ones', false, ['heads']);
export const HEAD_WEIGHT = kind('normal', true, ['heads']);
export const FEATURES = kind('features', false, [], false);
export const RUNNING_MEAN: Kind = { ...kind('zeros', false, [], false), running: true };
export const RUNNING_VAR: Kind = { ...kind('ones', false, [], false), running: true };
export const SEMANTIC_TOKEN = kind('normal', false, ['semantic']);

/**
 * Receives one parameter: `prefix` + `.` + `local` is its name (prefix '' for top-level ones);
 * shape [d0] or [d0, d1]. Passing numbers, not arrays, keeps the cost model's hot path free of
 * allocations.
 */
export type Emit = (prefix: string, local: string, kind: Kind, d0: number, d1?: number) => void;

/** Network-wide dimensions of a spec. */
export interface Net {
  readonly spec: ArchSpec;
  readonly E: number;
  /** patch tokens */
  readonly P: number;
  /** class tokens in the patch blocks (0 or 1): none with class attention, which adds it only after them */
  readonly cls: number;
  /** whether the network has a class token at all (readout `cls`) */
  readonly clsToken: number;
  /** class-attention layers */
  readonly L: number;
  /** semantic tokens M of the dual pathway (0: none) */
  readonly M: number;
  /** tokens the patch blocks hold: P + cls */
  readonly T: number;
  readonly gh: number;
  readonly gw: number;
  readonly C: number;
}

export function netOf(spec: ArchSpec): Net {
  const gh = spec.input[0] / spec.patch;
  const gw = spec.input[1] / spec.patch;
  const clsToken = spec.readout === 'cls' ? 1 : 0;
  const L = spec.classAttention ?? 0;
  const cls = L > 0 ? 0 : clsToken;
  return { spec, E: spec.embed, P: gh * gw, cls, clsToken, L, M: spec.semantic ?? 0, T: gh * gw + cls, gh, gw, C: spec.input[2] };
}

export type Convention = 'macs' | 'vitas';

/** How a convention counts tokens: `n` tokens in every token-wise product, the head at `head` tokens. */
export interface Counting {
  readonly n: number;
  readonly clsCounted: number;
  readonly head: number;
}

export function countingOf(net: Net, convention: Convention): Counting {
  const clsCounted = convention === 'macs' ? net.cls : 0;
  return { n: net.P + clsCounted, clsCounted, head: convention === 'vitas' ? net.P : 1 };
}

/** One block's dimensions. */
export interface Blk {
  readonly b: AttnBlock;
  /** parameter-name prefix, `blocks.{i}` */
  readonly prefix: string;
  /** width of each of q, k, v (qkv / 3) */
  readonly I: number;
  /** head dim */
  readonly d: number;
}

const prefixes: string[] = [];
/** `blocks.{i}`, built once per index (the cost model's hot path builds no strings). */
export function blockPrefix(i: number): string {
  return (prefixes[i] ??= `blocks.${i}`);
}

export function blkOf(b: AttnBlock, i: number): Blk {
  const I = b.qkv / 3;
  return { b, prefix: blockPrefix(i), I, d: b.heads > 0 ? I / b.heads : 0 };
}

/**
 * A second token stream a mixer carries through the blocks (Dual-ViT's semantic tokens): formed once,
 * at the first block using the mixer, from parameters of its own (declared here, not per block).
 */
export interface StreamDecl {
  /** the cost row's name */
  readonly row: string;
  params(net: Net, emit: Emit): void;
  macs(net: Net): number;
  acts(net: Net): number;
}

/** A token mixer (DESIGN §6): what it adds to a block beyond the norms and the MLP. */
export interface MixerDecl {
  /** whether it uses the block's q, k, v and output projections (shared across the mixers that have them) */
  readonly projections: boolean;
  /** MACs of those projections where they do not all run on the block's n tokens (default n·E·qkv + n·I·E) */
  projectionMacs?(net: Net, k: Blk, c: Counting): number;
  /** the stream it carries, if any */
  readonly stream?: StreamDecl;
  /** the mixer's own parameters (the projections are declared by attention.ts) */
  params(net: Net, k: Blk, emit: Emit): void;
  /** MACs of the mixing itself in one pass over `n` counted tokens, `groups` sliced groups */
  macs(net: Net, k: Blk, c: Counting, groups: number): number;
  /** floats per image a training step keeps for the backward of one pass */
  acts(net: Net, k: Blk): number;
}
