/**
 * The super-transformer (DESIGN §5): weights allocated at the space's maxima; a subnet runs on
 * slices of them. Nothing here names a layer: which variables exist, their shapes and how a
 * subnet's parameter maps onto one are all derived from the operator declarations
 * (src/space/operators) and their sharing rules:
 * - a parameter is one variable at the maxima, served to a subnet as W[off : off + size] per axis,
 *   off = 0 ("left") or max − size ("right");
 * - `patch` / `patch-token`: one variable per patch size (`….p{patch}.…`); `heads` / `heads-qk`: one
 *   per head-count choice (`….h{heads}.…`) — the `-token` and `-qk` ones only while ViTAS's private
 *   class tokens and attention maps are on (the ablations switch them off); `groups-qk`: Q and K
 *   per largest SReT group count of a softmax block (`….g{G}.…`), only with `privateGroups`;
 * - `semantic`: one per semantic token count (`….m{M}.…`: Dual-ViT's learned queries);
 * - token axes (position rows, Linformer's E, Mixer's token MLP): index 0 is the class token's, so a
 *   subnet whose blocks hold none (mean readout, or class attention after the blocks) starts at 1;
 * - buffers (Performer's fixed features) are not variables: drawn from the seed on first use;
 * - BatchNorm running statistics are non-trainable variables at the maxima (`running`), sliced like
 *   the weights: every subnet width shares one set per layer, hence `recalibrate` (batchnorm.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { netOf, type Share } from '../space/operators/decl.js';
import { VitasError } from '../errors.js';
import { encode } from '../space/genome.js';
import { paramList, type ParamEntry } from '../space/params.js';
import { spaceMaxima, type SearchSpace } from '../space/space.js';
import type { ArchSpec, AttnBlock, BlockSpec } from '../space/spec.js';
import { initialValue } from './init.js';
import type { ChannelStats } from './fn/batchnorm.js';
import { vitForward, type ParamSource } from './vit.js';
import { DEFAULT_RECIPE, type Slicing, type SupernetRecipe } from '../train/supernet-recipe.js';

export type Side = 'left' | 'right';

export interface Region {
  begin: number[];
  size: number[];
}

/** Which slices of which variables a forward used (the optimizer updates exactly those). */
export type Usage = Map<string, Region[]>;

/**
 * Training inputs: per variable, one tensor holding the box `at` that covers every slice a step
 * uses. Gradients are taken with respect to these small tensors, not the full variables, so the
 * backward never pads a slice's gradient back to full size.
 */
export type Leaves = Map<string, { at: Region; t: tf.Tensor }>;

/** The smallest box covering all `regions`. */
export function boundingBox(regions: Region[]): Region {
  const rank = regions[0]!.begin.length;
  const begin = Array.from({ length: rank }, (_, i) => Math.min(...regions.map((r) => r.begin[i]!)));
  const end = Array.from({ length: rank }, (_, i) => Math.max(...regions.map((r) => r.begin[i]! + r.size[i]!)));
  return { begin, size: end.map((e, i) => e - begin[i]!) };
}

const sameRegion = (a: Region, b: Region): boolean => a.begin.join() === b.begin.join() && a.size.join() === b.size.join();

/**
 * How a supernet forward's BatchNorm layers normalise: by the stored running statistics
 * (`running`, evaluation), by the batch's own (`batch`), or by the batch's own handing each layer's
 * statistics, with the slicing side that ran it, to a recorder (training steps, recalibration).
 */
export type SupernetNorm = 'running' | 'batch' | ((side: Side, layer: string, stats: ChannelStats) => void);

/** What ViTAS makes private; switched off only for ablations. */
export interface SupernetOptions {
  /** a class token and position embedding per patch size (else one shared, sliced by length) */
  privateTokens: boolean;
  /** Q and K projections per head-count choice (else one shared pair) */
  privateAttention: boolean;
  /**
   * Q and K projections per group count of SReT's sliced group attention (a block's largest over its
   * passes), else one pair for grouped and global attention alike. Not ViTAS: with one pair the
   * supernet barely rewarded grouped blocks that stand-alone training rewards; the private pair
   * helped only where grouping separated the subnets (RESULTS.md "Q and K private per group count").
   */
  privateGroups: boolean;
}

/** What a supernet recipe (a definition's section, or a checkpoint's) makes private; unset fields take the recipe defaults. */
export function supernetOptions(r: Partial<SupernetRecipe>): SupernetOptions {
  return {
    privateTokens: r.privateTokens ?? DEFAULT_RECIPE.privateTokens,
    privateAttention: r.privateAttention ?? DEFAULT_RECIPE.privateAttention,
    privateGroups: r.privateGroups ?? DEFAULT_RECIPE.privateGroups,
  };
}

interface Param {
  v: tf.Variable;
  /** weight decay applies (not to biases, norms, tokens, position embeddings, scalars) */
  decay: boolean;
}

/**
 * One spec per combination of the choices that decide which variables exist (patch size, stem,
 * mixer, head count, softmax group count, semantic token count; class attention on), every other
 * dimension at its maximum: the union of their declared parameters is the supernet.
 */
function* allocationSpecs(space: SearchSpace): Generator<ArchSpec> {
  const max = spaceMaxima(space);
  const features = Math.max(0, ...(space.features ?? []));
  for (const patch of space.patch)
    for (const stem of space.stem)
      for (const attention of space.attention) {
        const projections = attention !== 'fnet' && attention !== 'mixer';
        for (const heads of projections ? space.heads : [1])
          for (const groups of attention === 'softmax' ? space.groups : [1]) {
            const blk: AttnBlock = { op: 'attn', attention, heads, qkv: projections ? max.qkv : 0, mlp: max.mlp, recursion: max.recursion };
            if (groups > 1) blk.groups = new Array<number>(max.recursion).fill(groups);
            if (attention === 'performer' || attention === 'linformer' || attention === 'nystrom') blk.features = features;
            if (attention === 'mixer') blk.tokenMlp = max.tokenMlp;
            if (attention === 'nystrom') blk.conv = true;
            if (space.lpi?.includes(true)) blk.lpi = true;
            const blocks: BlockSpec[] = Array.from({ length: space.blocks }, () => ({ ...blk }));
            // a class token and a learned position table always: row 0 of the table is the class token's
            const spec: ArchSpec = { version: 1, input: space.input, classes: space.classes, patch, stem, embed: max.embed, pos: 'learned', blocks, readout: 'cls' };
            // Dual-ViT's learned queries are private per semantic count
            for (const semantic of attention === 'dual' ? space.semantic! : [undefined]) yield semantic === undefined ? spec : { ...spec, semantic };
            // the class-attention layers, at this head count
            if (max.classAttention > 0) yield { ...spec, classAttention: max.classAttention, classBlocks: Array.from({ length: max.classAttention }, () => ({ heads, qkv: max.qkv, mlp: max.mlp })) };
          }
      }
}

let instances = 0;

function active(t: Share, o: SupernetOptions): boolean {
  if (t === 'patch-token') return o.privateTokens;
  if (t === 'heads-qk') return o.privateAttention;
  if (t === 'groups-qk') return o.privateGroups;
  return true;
}

/** `g{G}` for a parameter of a softmax block whose passes cut the tokens into at most G groups; '' elsewhere (class attention, other mixers). */
function groupsLabel(e: ParamEntry, spec: ArchSpec): string {
  const b = e.block >= 0 ? spec.blocks[e.block] : undefined;
  if (!b || b.op !== 'attn' || b.attention !== 'softmax') return '';
  return `g${Math.max(1, ...(b.groups ?? []))}`;
}

/** Supernet variable of a subnet parameter: its name with the private tags of its sharing rule before the last segment. */
function variableKey(e: ParamEntry, spec: ArchSpec, o: SupernetOptions): string {
  const tags = e.kind.share.filter((t) => active(t, o));
  if (tags.length === 0) return e.name;
  const labels = tags.map((t) => {
    if (t === 'patch' || t === 'patch-token') return `p${spec.patch}`;
    if (t === 'semantic') return `m${spec.semantic}`;
    if (t === 'groups-qk') return groupsLabel(e, spec);
    if (!e.heads) throw new Error(`${e.name}: a per-head parameter outside an attention block or class-attention layer`);
    return `h${e.heads}`;
  }).filter((l) => l !== '');
  if (labels.length === 0) return e.name;
  const cut = e.name.lastIndexOf('.');
  return cut < 0 ? `${labels.join('.')}.${e.name}` : `${e.name.slice(0, cut)}.${labels.join('.')}${e.name.slice(cut)}`;
}

/**
 * The supernet's variables (trained weights and BatchNorm running statistics), sorted by name,
 * with their shapes at the maxima. Pure: the memory guard sizes a supernet before it exists.
 */
export function supernetShapes(space: SearchSpace, o: SupernetOptions): [string, { shape: number[]; entry: ParamEntry }][] {
  const shapes = new Map<string, { shape: number[]; entry: ParamEntry }>();
  for (const spec of allocationSpecs(space)) {
    for (const e of paramList(spec)) {
      if (!e.kind.trainable && !e.kind.running) continue;
      const key = variableKey(e, spec, o);
      const had = shapes.get(key);
      shapes.set(key, { shape: had ? had.shape.map((s, i) => Math.max(s, e.shape[i]!)) : e.shape, entry: e });
    }
  }
  return [...shapes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export class Supernet {
  /** tfjs variable names are global: each supernet gets its own prefix */
  private readonly prefix = `supernet${instances++}`;
  readonly space: SearchSpace;
  readonly params = new Map<string, Param>();
  readonly maxima: ReturnType<typeof spaceMaxima>;
  readonly options: SupernetOptions;
  readonly seed: number;
  /** BatchNorm running statistics at the maxima, by variable name (not trained: AdamW never sees them) */
  readonly running = new Map<string, Param>();
  /** buffers by name and shape, drawn on first use */
  private readonly buffers = new Map<string, tf.Tensor>();

  constructor(space: SearchSpace, opts: { seed?: number } & Partial<SupernetOptions> = {}) {
    this.space = space;
    this.options = supernetOptions(opts);
    this.maxima = spaceMaxima(space);
    this.seed = opts.seed ?? 0;
    for (const [key, { shape, entry }] of supernetShapes(space, this.options)) {
      const init = initialValue(entry.kind.init, shape, this.seed, `supernet/${key}`);
      const store = entry.kind.running ? this.running : this.params;
      store.set(key, { v: tf.variable(init, !entry.kind.running, `${this.prefix}/${key}`), decay: entry.kind.decay });
      init.dispose();
    }
  }

  private key(e: ParamEntry, spec: ArchSpec): string {
    return variableKey(e, spec, this.options);
  }

  /** The variable and slice serving parameter (or running statistic) `e` of `spec` on `side`. */
  resolve(e: ParamEntry, spec: ArchSpec, side: Side): { param: Param; key: string; region: Region } {
    const key = this.key(e, spec);
    const param = (e.kind.running ? this.running : this.params).get(key);
    if (!param) throw new VitasError(`supernet of space "${this.space.name}" has no parameter ${key} (is the spec inside the space?)`);
    const full = param.v.shape;
    const shape = e.shape;
    if (full.length !== shape.length || shape.some((s, i) => s > full[i]!)) {
      throw new VitasError(`spec needs ${e.name} of shape [${shape}] but the supernet holds [${full}] (is the spec inside space "${this.space.name}"?)`);
    }
    // class tokens in the blocks: none without a class token, and none with class attention
    const { cls } = netOf(spec);
    const begin = shape.map((s, i) => (e.kind.tokenAxis === i ? 1 - cls : side === 'left' ? 0 : full[i]! - s));
    return { param, key, region: { begin, size: shape } };
  }

  /** A buffer (fixed random features) of `spec`, the same for every subnet that has its name and shape. */
  buffer(e: ParamEntry): tf.Tensor {
    const id = `${e.name}:${e.shape.join('x')}`;
    let t = this.buffers.get(id);
    if (!t) {
      t = tf.keep(initialValue(e.kind.init, e.shape, this.seed, `supernet/${id}`));
      this.buffers.set(id, t);
    }
    return t;
  }

  /** The slices `specs` use, known from the specs alone (before anything runs). */
  usage(specs: ArchSpec[], slicing: Slicing): Usage {
    const usage: Usage = new Map();
    for (const spec of specs) {
      this.check(spec);
      for (const side of slicing === 'left' ? (['left'] as const) : (['left', 'right'] as const)) {
        for (const e of paramList(spec)) if (e.kind.trainable) record(usage, this.resolve(e, spec, side));
      }
    }
    return usage;
  }

  /** The box of variable `key` that training leaves and gradients cover: all regions `usage` lists for it. */
  box(usage: Usage, key: string): Region {
    return boundingBox(usage.get(key)!);
  }

  /** Training leaves for `usage`: the covering box of each variable (the variable itself when that is all of it). */
  leaves(usage: Usage): Leaves {
    const leaves: Leaves = new Map();
    for (const key of usage.keys()) {
      const v = this.params.get(key)!.v;
      const at = this.box(usage, key);
      leaves.set(key, { at, t: at.size.every((s, i) => s === v.shape[i]) ? v : tf.slice(v, at.begin, at.size) });
    }
    return leaves;
  }

  /** A parameter source slicing this supernet (or its `leaves`) for `spec`; records what it used into `usage`. */
  source(spec: ArchSpec, side: Side, usage?: Usage, leaves?: Leaves): ParamSource {
    const entries = new Map(paramList(spec).map((e) => [e.name, e]));
    return {
      get: (name: string): tf.Tensor => {
        const e = entries.get(name);
        if (!e) throw new Error(`spec has no parameter ${name}`);
        if (e.kind.running) {
          const { param, region } = this.resolve(e, spec, side);
          return region.size.every((s, i) => s === param.v.shape[i]) ? param.v : tf.slice(param.v, region.begin, region.size);
        }
        if (!e.kind.trainable) return this.buffer(e);
        const r = this.resolve(e, spec, side);
        const { param, key, region } = r;
        if (usage) record(usage, r);
        const leaf = leaves?.get(key);
        if (leaf) {
          if (sameRegion(leaf.at, region)) return leaf.t;
          return tf.slice(leaf.t, region.begin.map((b, i) => b - leaf.at.begin[i]!), region.size);
        }
        const full = param.v.shape;
        return region.size.every((s, i) => s === full[i]) ? param.v : tf.slice(param.v, region.begin, region.size);
      },
    };
  }

  /** Throws a one-line error naming the first field of `spec` that lies outside this supernet's space. */
  check(spec: ArchSpec): void {
    encode(this.space, spec);
  }

  /** Logits of subnet `spec`: left slices, or (two-sided) the sum of left- and right-slice logits. */
  forward(images: tf.Tensor4D, spec: ArchSpec, slicing: Slicing = 'left', usage?: Usage, leaves?: Leaves, norm: SupernetNorm = 'running'): tf.Tensor2D {
    this.check(spec);
    const run = (side: Side): tf.Tensor2D => vitForward(images, spec, this.source(spec, side, usage, leaves), { norm: typeof norm === 'function' ? (layer, stats) => norm(side, layer, stats) : norm });
    const left = run('left');
    if (slicing === 'left') return left;
    return tf.add(left, run('right'));
  }

  variables(): tf.Variable[] {
    return [...this.params.values()].map((p) => p.v);
  }

  paramCount(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.v.size;
    return n;
  }

  dispose(): void {
    for (const p of this.params.values()) p.v.dispose();
    this.params.clear();
    for (const p of this.running.values()) p.v.dispose();
    this.running.clear();
    for (const t of this.buffers.values()) t.dispose();
    this.buffers.clear();
  }
}

function record(usage: Usage, r: { key: string; region: Region }): void {
  const list = usage.get(r.key) ?? [];
  if (!list.some((x) => sameRegion(x, r.region))) list.push(r.region);
  usage.set(r.key, list);
}
