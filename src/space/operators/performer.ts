/**
 * `performer` (Vision X-formers, from lucidrains' performer): FAVOR+ with m positive orthogonal
 * random features per head dim, Ω [m, d] drawn once from the seed and never redrawn (a buffer:
 * saved with a model, not trained). out = D⁻¹φ(Q)(φ(K)ᵀV), D = diag(φ(Q)·φ(K)ᵀ1). Linear in n.
 */
import { FEATURES, type Blk, type MixerDecl } from './decl.js';

/** m: the spec's `features`, else ⌈d·ln d⌉ as the reference. */
export function performerFeatures(k: Blk): number {
  return k.b.features ?? Math.ceil(k.d * Math.log(k.d));
}

export const performer: MixerDecl = {
  projections: true,
  params(_net, k, emit) {
    emit(k.prefix, 'performer.omega', FEATURES, performerFeatures(k), k.d);
  },
  // per head: φ(Q), φ(K) projections (n·d·m each), φ(K)ᵀV and φ(Q)·(φ(K)ᵀV) (n·m·d each), the normaliser φ(Q)·Σφ(K) (n·m)
  macs: (_net, k, c) => {
    const m = performerFeatures(k);
    return 4 * c.n * m * k.I + c.n * m * k.b.heads;
  },
  acts: (net, k) => 3 * k.b.heads * net.T * performerFeatures(k),
};
