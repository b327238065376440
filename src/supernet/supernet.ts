/**
 * The super-transformer (DESIGN §5): weights allocated at the space's maxima; a subnet runs on
 * slices of them. Slicing rules, one per parameter kind, all in `resolve`:
 * - linear W[maxIn, maxOut] → W[off(in) : +in, off(out) : +out], b likewise; off = 0 ("left") or max − size ("right");
 * - LayerNorm γ, β[maxE] → the same channel slice as the embed;
 * - private patch embedding, class token and position embedding per patch size (`p{patch}.…`);
 * - private Q and K projections per head-count choice (`….attn.q.h{heads}`), V and proj shared;
 * - position embedding [P + 1, maxE]: rows from the end (the class row is row 0), columns by side.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../space/errors.js';
import { spaceMaxima, type SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { assertRunnable, paramList, vitForward, type ParamSource } from './vit.js';

export type Side = 'left' | 'right';
/** `left`: prefix slices; `two-sided`: ViTAS/BCNet — left and right slices, logits summed. */
export type Slicing = 'left' | 'two-sided';

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

/** What ViTAS makes private; switched off only for ablations. */
export interface SupernetOptions {
  /** a class token and position embedding per patch size (else one shared, sliced by length) */
  privateTokens: boolean;
  /** Q and K projections per head-count choice (else one shared pair) */
  privateAttention: boolean;
}

interface Param {
  v: tf.Variable;
  /** weight decay applies (not to biases, norms, tokens, position embeddings, scalars) */
  decay: boolean;
}

let instances = 0;

export class Supernet {
  /** tfjs variable names are global: each supernet gets its own prefix */
  private readonly prefix = `supernet${instances++}`;
  readonly space: SearchSpace;
  readonly params = new Map<string, Param>();
  readonly maxima: ReturnType<typeof spaceMaxima>;

  readonly options: SupernetOptions;

  constructor(space: SearchSpace, opts: { seed?: number } & Partial<SupernetOptions> = {}) {
    this.space = space;
    this.options = { privateTokens: opts.privateTokens ?? true, privateAttention: opts.privateAttention ?? true };
    this.maxima = spaceMaxima(space);
    let seed = opts.seed ?? 0;
    const { embed: E, qkv, mlp: H } = this.maxima;
    const I = qkv / 3;
    const [, , c] = space.input;
    const weight = (name: string, shape: number[]): void => this.add(name, tf.truncatedNormal(shape, 0, 0.02, 'float32', seed++), true);
    const fixed = (name: string, t: tf.Tensor): void => this.add(name, t, false);
    const lin = (name: string, din: number, dout: number): void => {
      weight(`${name}.w`, [din, dout]);
      fixed(`${name}.b`, tf.zeros([dout]));
    };
    const norm = (name: string, dim: number): void => {
      fixed(`${name}.gamma`, tf.ones([dim]));
      fixed(`${name}.beta`, tf.zeros([dim]));
    };
    for (const p of space.patch) {
      const patches = (space.input[0] / p) * (space.input[1] / p);
      lin(`p${p}.patch_embed`, p * p * c, E);
      if (!this.options.privateTokens) continue;
      fixed(`p${p}.cls`, tf.truncatedNormal([E], 0, 0.02, 'float32', seed++));
      fixed(`p${p}.pos`, tf.truncatedNormal([patches + 1, E], 0, 0.02, 'float32', seed++));
    }
    if (!this.options.privateTokens) {
      // ablation: one class token and one position table (sliced to the sequence length) for every patch size
      const most = Math.max(...space.patch.map((p) => (space.input[0] / p) * (space.input[1] / p)));
      fixed('shared.cls', tf.truncatedNormal([E], 0, 0.02, 'float32', seed++));
      fixed('shared.pos', tf.truncatedNormal([most + 1, E], 0, 0.02, 'float32', seed++));
    }
    for (let i = 0; i < space.blocks; i++) {
      const b = `blocks.${i}`;
      norm(`${b}.norm1`, E);
      for (const h of this.options.privateAttention ? space.heads : ['shared']) {
        lin(`${b}.attn.q.h${h}`, E, I);
        lin(`${b}.attn.k.h${h}`, E, I);
      }
      lin(`${b}.attn.v`, E, I);
      lin(`${b}.attn.proj`, I, E);
      norm(`${b}.norm2`, E);
      lin(`${b}.mlp.fc1`, E, H);
      lin(`${b}.mlp.fc2`, H, E);
      for (let k = 1; k < this.maxima.recursion; k++) {
        norm(`${b}.nll${k}.norm`, E);
        lin(`${b}.nll${k}.fc1`, E, E);
        lin(`${b}.nll${k}.fc2`, E, E);
        fixed(`${b}.nll${k}.alpha`, tf.ones([1]));
        fixed(`${b}.nll${k}.beta`, tf.ones([1]));
      }
    }
    norm('norm', E);
    lin('head', E, space.classes);
  }

  private add(name: string, init: tf.Tensor, decay: boolean): void {
    this.params.set(name, { v: tf.variable(init, true, `${this.prefix}/${name}`), decay });
    init.dispose();
  }

  /** Supernet variable name for a subnet parameter name (private tokens per patch, private Q/K per head count). */
  private key(name: string, spec: ArchSpec): string {
    if (/^patch_embed\b/.test(name) || (this.options.privateTokens && /^(cls|pos)$/.test(name))) return `p${spec.patch}.${name}`;
    if (/^(cls|pos)$/.test(name)) return `shared.${name}`;
    const m = /^blocks\.(\d+)\.attn\.([qk])\.(w|b)$/.exec(name);
    if (m) {
      const blk = spec.blocks[Number(m[1])];
      if (!blk || blk.op !== 'attn') throw new Error(`no attention block ${m[1]}`);
      return `blocks.${m[1]}.attn.${m[2]}.h${this.options.privateAttention ? blk.heads : 'shared'}.${m[3]}`;
    }
    return name;
  }

  /** The variable and slice serving `name` at `shape` for this spec and side. */
  resolve(name: string, shape: number[], spec: ArchSpec, side: Side): { param: Param; key: string; region: Region } {
    const key = this.key(name, spec);
    const param = this.params.get(key);
    if (!param) throw new VitasError(`supernet of space "${this.space.name}" has no parameter ${key} (is the spec inside the space?)`);
    const full = param.v.shape;
    if (full.length !== shape.length || shape.some((s, i) => s > full[i]!)) {
      throw new VitasError(`spec needs ${name} of shape [${shape}] but the supernet holds [${full}] (is the spec inside space "${this.space.name}"?)`);
    }
    // position rows: the class row is row 0, so a subnet without a class token starts at row 1
    const isPos = /^pos$/.test(name);
    const begin = shape.map((s, i) => (isPos && i === 0 ? (spec.readout === 'cls' ? 0 : 1) : side === 'left' ? 0 : full[i]! - s));
    return { param, key, region: { begin, size: shape } };
  }

  /** The slices `specs` use, known from the specs alone (before anything runs). */
  usage(specs: ArchSpec[], slicing: Slicing): Usage {
    const usage: Usage = new Map();
    for (const spec of specs) {
      for (const side of slicing === 'left' ? (['left'] as const) : (['left', 'right'] as const)) {
        for (const { name, shape } of paramList(spec)) record(usage, this.resolve(name, shape, spec, side));
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
    const get = (name: string, shape: number[]): tf.Tensor => {
      const r = this.resolve(name, shape, spec, side);
      const { param, key, region } = r;
      if (usage) record(usage, r);
      const leaf = leaves?.get(key);
      if (leaf) {
        if (sameRegion(leaf.at, region)) return leaf.t;
        return tf.slice(leaf.t, region.begin.map((b, i) => b - leaf.at.begin[i]!), region.size);
      }
      const full = param.v.shape;
      return region.size.every((s, i) => s === full[i]) ? param.v : tf.slice(param.v, region.begin, region.size);
    };
    return {
      linear: (name, din, dout) => ({ w: get(`${name}.w`, [din, dout]) as tf.Tensor2D, b: get(`${name}.b`, [dout]) as tf.Tensor1D }),
      norm: (name, dim) => ({ gamma: get(`${name}.gamma`, [dim]) as tf.Tensor1D, beta: get(`${name}.beta`, [dim]) as tf.Tensor1D }),
      tensor: (name, shape) => get(name, shape),
    };
  }

  /** Logits of subnet `spec`: left slices, or (two-sided) the sum of left- and right-slice logits. */
  forward(images: tf.Tensor4D, spec: ArchSpec, slicing: Slicing = 'left', usage?: Usage, leaves?: Leaves): tf.Tensor2D {
    assertRunnable(spec);
    const left = vitForward(images, spec, this.source(spec, 'left', usage, leaves));
    if (slicing === 'left') return left;
    return tf.add(left, vitForward(images, spec, this.source(spec, 'right', usage, leaves)));
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
  }
}

function record(usage: Usage, r: { key: string; region: Region }): void {
  const list = usage.get(r.key) ?? [];
  if (!list.some((x) => sameRegion(x, r.region))) list.push(r.region);
  usage.set(r.key, list);
}
