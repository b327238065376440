/** Exact reachable cost range of a space: the cheapest and the dearest subnet, found by enumeration per block. */
import { costOf, type Convention } from './cost.js';
import type { ArchSpec, AttnBlock, BlockSpec } from './spec.js';
import { mlpChoices, mlpWidth, qkvChoices, qkvWidth, type SearchSpace } from './space.js';

export interface CostRange {
  min: number;
  max: number;
  minSpec: ArchSpec;
  maxSpec: ArchSpec;
}

/** Every distinct block the space allows for a given embed width. */
function* blockChoices(space: SearchSpace, embed: number): Generator<AttnBlock> {
  const mlps = Array.from({ length: mlpChoices(space) }, (_, k) => mlpWidth(space, k, embed));
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

function groupTuples(choices: number[], r: number): number[][] {
  if (r === 0) return [[]];
  return groupTuples(choices, r - 1).flatMap((t) => choices.map((g) => [...t, g]));
}

export function reachableRange(space: SearchSpace, convention: Convention = 'macs'): CostRange {
  let best: CostRange | undefined;
  for (const patch of space.patch)
    for (const stem of space.stem)
      for (const pos of space.pos)
        for (const readout of space.readout)
          for (const embed of space.embed) {
            const frame = (blocks: BlockSpec[]): ArchSpec => ({ version: 1, input: [...space.input], classes: space.classes, patch, stem, embed, pos, blocks, readout });
            const base = costOf(frame([]), convention).macs;
            let lo: AttnBlock | undefined, hi: AttnBlock | undefined;
            let loCost = Infinity, hiCost = -Infinity;
            for (const b of blockChoices(space, embed)) {
              const c = costOf(frame([b]), convention).macs - base;
              if (c < loCost) [loCost, lo] = [c, b];
              if (c > hiCost) [hiCost, hi] = [c, b];
            }
            const pad = (b: AttnBlock, depth: number): BlockSpec[] =>
              space.identity === 'tail'
                ? Array.from({ length: depth }, () => ({ ...b }))
                : Array.from({ length: space.blocks }, (_, i) => (i < depth ? { ...b } : { op: 'identity' as const }));
            const min = base + space.depth.min * loCost;
            const max = base + space.depth.max * hiCost;
            if (!best) best = { min, max, minSpec: frame(pad(lo!, space.depth.min)), maxSpec: frame(pad(hi!, space.depth.max)) };
            if (min < best.min) [best.min, best.minSpec] = [min, frame(pad(lo!, space.depth.min))];
            if (max > best.max) [best.max, best.maxSpec] = [max, frame(pad(hi!, space.depth.max))];
          }
  return best!;
}
