/**
 * The analytic cost model (DESIGN §3, §6): MACs and parameters of a spec, per layer and in total,
 * derived from the operator declarations (src/space/operators). Pure arithmetic on the spec; the
 * searcher calls it millions of times, so the totals path allocates nothing.
 *
 * Conventions:
 * - `macs`: tokens N = patches + class token; the head counted once.
 * - `vitas`: the ViTAS paper's counter: N = patches (no class token); the head counted at every patch token.
 * Parameters count what a model trains (not buffers such as Performer's fixed features) and do
 * not depend on the convention.
 */
import type { ArchSpec } from './spec.js';
import type { Convention, Kind } from './operators/decl.js';
import { layerName, walkNetwork, type NetworkVisitor } from './operators/network.js';

export type { Convention } from './operators/decl.js';
export const CONVENTIONS: readonly Convention[] = ['macs', 'vitas'];

export interface Cost {
  macs: number;
  params: number;
}

export interface LayerCost extends Cost {
  layer: string;
}

const size = (kind: Kind, d0: number, d1?: number): number => (kind.trainable ? d0 * (d1 ?? 1) : 0);

// the totals path: one visitor, reused, summing into [MACs, params]
const acc = new Float64Array(2);
const totals: NetworkVisitor = {
  emit: (_p, _l, kind, d0, d1) => {
    if (kind.trainable) acc[1] += d1 === undefined ? d0 : d0 * d1;
  },
  layer: (_p, _pass, _l, macs) => {
    acc[0] += macs;
  },
};

/** Total MACs and parameters of a spec. */
export function costOf(spec: ArchSpec, convention: Convention = 'macs'): Cost {
  acc[0] = 0;
  acc[1] = 0;
  walkNetwork(spec, convention, totals);
  return { macs: acc[0]!, params: acc[1]! };
}

export function macsOf(spec: ArchSpec, convention: Convention = 'macs'): number {
  return costOf(spec, convention).macs;
}

export function paramsOf(spec: ArchSpec): number {
  return costOf(spec, 'macs').params;
}

/** Per-layer rows in network order (each with the parameters declared for it), and the totals. */
export function costReport(spec: ArchSpec, convention: Convention = 'macs'): { layers: LayerCost[]; total: Cost; convention: Convention } {
  const layers: LayerCost[] = [];
  const total = { macs: 0, params: 0 };
  let pending = 0;
  walkNetwork(spec, convention, {
    emit: (_p, _l, kind, d0, d1) => void (pending += size(kind, d0, d1)),
    layer: (prefix, pass, local, macs, groups) => {
      layers.push({ layer: layerName(prefix, pass, local, groups), macs, params: pending });
      total.macs += macs;
      total.params += pending;
      pending = 0;
    },
  });
  return { layers, total, convention };
}
