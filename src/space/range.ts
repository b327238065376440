/** Exact reachable cost range of a space: the cheapest and the dearest subnet, found by enumeration per block. */
import { costOf, type Convention } from './cost.js';
import type { ArchSpec, AttnBlock, BlockSpec, ClassBlock, PosEncoding, Readout, Stem } from './spec.js';
import { mlpChoices, mlpWidth, qkvChoices, qkvWidth, type SearchSpace } from './space.js';

export interface CostRange {
  min: number;
  max: number;
  minSpec: ArchSpec;
  maxSpec: ArchSpec;
}

/**
 * The narrowest and the widest MLP: a block's (or class-attention layer's) MACs grow with its MLP
 * width and nothing else depends on it, so the extremes of the cost lie at these two.
 */
function mlpExtremes(space: SearchSpace, embed: number): number[] {
  const widths = Array.from({ length: mlpChoices(space) }, (_, k) => mlpWidth(space, k, embed));
  return [...new Set([Math.min(...widths), Math.max(...widths)])];
}

/** Every distinct block the space allows for a given embed width, the MLP at its two extremes. */
function* blockChoices(space: SearchSpace, embed: number): Generator<AttnBlock> {
  const mlps = mlpExtremes(space, embed);
  for (const attention of space.attention) {
    const noQkv = attention === 'fnet' || attention === 'mixer';
    const headSet = noQkv ? [1] : space.heads;
    const feats: (number | undefined)[] = attention === 'performer' || attention === 'linformer' || attention === 'nystrom' ? space.features! : [undefined];
    const toks: (number | undefined)[] = attention === 'mixer' ? space.tokenMlp! : [undefined];
    for (const heads of headSet)
      for (let q = 0; q < (noQkv ? 1 : qkvChoices(space)); q++)
        for (const mlp of mlps)
          for (const recursion of space.recursion)
            for (const groups of groupTuples(attention === 'softmax' ? space.groups : [1], recursion))
              for (const lpi of space.lpi ?? [false])
                for (const features of feats)
                  for (const tokenMlp of toks) {
                    const b: AttnBlock = { op: 'attn', attention, heads, qkv: noQkv ? 0 : qkvWidth(space, q, heads), mlp, recursion, groups };
                    if (features !== undefined) b.features = features;
                    if (tokenMlp !== undefined) b.tokenMlp = tokenMlp;
                    if (lpi) b.lpi = true;
                    yield b;
                  }
  }
}

function* classChoices(space: SearchSpace, embed: number): Generator<ClassBlock> {
  for (const heads of space.heads)
    for (let q = 0; q < qkvChoices(space); q++)
      for (const mlp of mlpExtremes(space, embed)) yield { heads, qkv: qkvWidth(space, q, heads), mlp };
}

function groupTuples(choices: number[], r: number): number[][] {
  if (r === 0) return [[]];
  return groupTuples(choices, r - 1).flatMap((t) => choices.map((g) => [...t, g]));
}

/** Cheapest and dearest of a set of candidates by their cost. */
interface Extreme<T> {
  lo: T;
  loCost: number;
  hi: T;
  hiCost: number;
}

function extremes<T>(items: Iterable<T>, cost: (t: T) => number): Extreme<T> | undefined {
  let e: Extreme<T> | undefined;
  for (const t of items) {
    const c = cost(t);
    if (!e) e = { lo: t, loCost: c, hi: t, hiCost: c };
    else {
      if (c < e.loCost) [e.loCost, e.lo] = [c, t];
      if (c > e.hiCost) [e.hiCost, e.hi] = [c, t];
    }
  }
  return e;
}

/** Per-block extremes, split into blocks that carry the semantic stream (dual) and the rest, plus the stream's one-off formation. */
interface BlockExtremes {
  plain?: Extreme<AttnBlock>;
  dual?: Extreme<AttnBlock>;
  formation: number;
}

/**
 * The cheapest (or dearest) `depth` blocks: all plain ones, or one dual block paying the stream's
 * formation plus depth − 1 of whichever kind is cheaper (dearer) per block.
 */
function pick(e: BlockExtremes, depth: number, side: 'lo' | 'hi'): { cost: number; blocks: AttnBlock[] } {
  const better = (a: number, b: number): boolean => (side === 'lo' ? a < b : a > b);
  const costOfKind = (x: Extreme<AttnBlock> | undefined): number => (x ? (side === 'lo' ? x.loCost : x.hiCost) : side === 'lo' ? Infinity : -Infinity);
  const blockOf = (x: Extreme<AttnBlock>): AttnBlock => (side === 'lo' ? x.lo : x.hi);
  const plain = e.plain ? { cost: depth * costOfKind(e.plain), blocks: Array.from({ length: depth }, () => blockOf(e.plain!)) } : undefined;
  if (!e.dual) return plain!;
  const rest = e.plain && better(costOfKind(e.plain), costOfKind(e.dual)) ? e.plain : e.dual;
  const withDual = { cost: e.formation + costOfKind(e.dual) + (depth - 1) * costOfKind(rest), blocks: [blockOf(e.dual), ...Array.from({ length: depth - 1 }, () => blockOf(rest))] };
  return plain && !better(withDual.cost, plain.cost) ? plain : withDual;
}

export function reachableRange(space: SearchSpace, convention: Convention = 'macs'): CostRange {
  let best: CostRange | undefined;
  // block costs depend on the patch, readout, embed, whether class attention is on (it takes the
  // class token out of the blocks) and M, not on the stem or the position encoding: computed once per key
  const blockCache = new Map<string, BlockExtremes>();
  const classCache = new Map<string, Extreme<ClassBlock>>();
  const semantics: (number | undefined)[] = space.attention.includes('dual') ? space.semantic! : [undefined];
  for (const patch of space.patch)
    for (const stem of space.stem)
      for (const pos of space.pos)
        for (const readout of space.readout)
          for (const embed of space.embed)
            for (const L of space.classAttention ?? [0]) {
              if (L > 0 && readout !== 'cls') continue;
              for (const semantic of semantics) {
                const frame = makeFrame(space, patch, stem, pos, readout, embed);
                const base = costOf(frame([]), convention).macs;
                const cls = L > 0 ? classExtremes(space, classCache, frame, patch, readout, embed, convention) : undefined;
                const blocks = blockExtremes(space, blockCache, frame, { patch, readout, embed, ca: L > 0 ? cls!.lo : undefined, semantic }, convention);
                const lo = pick(blocks, space.depth.min, 'lo');
                const hi = pick(blocks, space.depth.max, 'hi');
                const min = base + lo.cost + L * (cls?.loCost ?? 0);
                const max = base + hi.cost + L * (cls?.hiCost ?? 0);
                const spec = (bs: AttnBlock[], cb: ClassBlock | undefined, depth: number): ArchSpec => {
                  const padded: BlockSpec[] = space.identity === 'tail' ? bs.map((b) => ({ ...b })) : Array.from({ length: space.blocks }, (_, i) => (i < depth ? { ...bs[i]! } : { op: 'identity' as const }));
                  const s = frame(padded);
                  if (semantic !== undefined && bs.some((b) => b.attention === 'dual')) s.semantic = semantic;
                  if (cb && L > 0) [s.classAttention, s.classBlocks] = [L, Array.from({ length: L }, () => ({ ...cb }))];
                  return s;
                };
                if (!best) best = { min, max, minSpec: spec(lo.blocks, cls?.lo, space.depth.min), maxSpec: spec(hi.blocks, cls?.hi, space.depth.max) };
                if (min < best.min) [best.min, best.minSpec] = [min, spec(lo.blocks, cls?.lo, space.depth.min)];
                if (max > best.max) [best.max, best.maxSpec] = [max, spec(hi.blocks, cls?.hi, space.depth.max)];
              }
            }
  return best!;
}

type Frame = (blocks: BlockSpec[]) => ArchSpec;

function makeFrame(space: SearchSpace, patch: number, stem: Stem, pos: PosEncoding, readout: Readout, embed: number): Frame {
  return (blocks) => ({ version: 1, input: [...space.input], classes: space.classes, patch, stem, embed, pos, blocks, readout });
}

/** A class-attention layer's own cost: a spec with that one layer less the same spec without it. */
function classExtremes(space: SearchSpace, cache: Map<string, Extreme<ClassBlock>>, frame: Frame, patch: number, readout: Readout, embed: number, convention: Convention): Extreme<ClassBlock> {
  const key = `${patch}:${readout}:${embed}`;
  let e = cache.get(key);
  if (!e) {
    const without = costOf(frame([]), convention).macs;
    e = extremes(classChoices(space, embed), (cb) => costOf({ ...frame([]), classAttention: 1, classBlocks: [cb] }, convention).macs - without)!;
    cache.set(key, e);
  }
  return e;
}

interface BlockKey {
  patch: number;
  readout: Readout;
  embed: number;
  /** a class-attention layer, when class attention is on (the blocks then hold no class token) */
  ca: ClassBlock | undefined;
  semantic: number | undefined;
}

/** Block extremes; only dual blocks depend on M, so the plain ones are cached without it. */
function blockExtremes(space: SearchSpace, cache: Map<string, BlockExtremes>, frame: Frame, k: BlockKey, convention: Convention): BlockExtremes {
  const shared = `${k.patch}:${k.readout}:${k.embed}:${k.ca ? 1 : 0}`;
  const key = `${shared}:${k.semantic}`;
  let e = cache.get(key);
  if (e) return e;
  const at = (blocks: BlockSpec[]): number => {
    const s = frame(blocks);
    if (k.semantic !== undefined) s.semantic = k.semantic;
    if (k.ca) [s.classAttention, s.classBlocks] = [1, [k.ca]];
    return costOf(s, convention).macs;
  };
  const base = at([]);
  let plain = cache.get(shared)?.plain;
  if (!plain) {
    plain = extremes(blocksWhere(space, k.embed, false), (b) => at([b]) - base);
    cache.set(shared, { formation: 0, ...(plain ? { plain } : {}) });
  }
  e = { formation: 0, ...(plain ? { plain } : {}) };
  const duals = [...blocksWhere(space, k.embed, true)];
  if (duals.length) {
    // a dual block's own cost without the stream's formation: two of them less one
    const dualCost = (b: AttnBlock): number => at([b, b]) - at([b]);
    e.formation = at([duals[0]!]) - base - dualCost(duals[0]!);
    e.dual = extremes(duals, dualCost);
  }
  cache.set(key, e);
  return e;
}

function* blocksWhere(space: SearchSpace, embed: number, dual: boolean): Generator<AttnBlock> {
  for (const b of blockChoices(space, embed)) if ((b.attention === 'dual') === dual) yield b;
}

/**
 * The other two corners of a space's width × depth square, for a depth-aware sandwich: the
 * largest subnet's blocks cut to the smallest depth (wide and shallow), and the smallest subnet's
 * cheapest block repeated to the largest depth (narrow and deep). The plain sandwich trains only
 * wide-and-deep and narrow-and-shallow, and leaves these to chance.
 */
export function depthCorners(space: SearchSpace, range: Pick<CostRange, 'minSpec' | 'maxSpec'>): { wideShallow: ArchSpec; narrowDeep: ArchSpec } {
  const active = (s: ArchSpec): AttnBlock[] => s.blocks.filter((b): b is AttnBlock => b.op !== 'identity');
  const place = (bs: AttnBlock[]): BlockSpec[] => (space.identity === 'tail' ? bs : Array.from({ length: space.blocks }, (_, i) => (i < bs.length ? bs[i]! : { op: 'identity' as const })));
  const wide = active(range.maxSpec).slice(0, space.depth.min).map((b) => ({ ...b }));
  const cheapest = active(range.minSpec)[0]!;
  const deep = Array.from({ length: space.depth.max }, () => ({ ...cheapest }));
  return { wideShallow: { ...range.maxSpec, blocks: place(wide) }, narrowDeep: { ...range.minSpec, blocks: place(deep) } };
}

