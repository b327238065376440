/**
 * `linformer`: K and V projected along the sequence to k rows by one learned E [T, k] (the
 * reference shares E = F), then softmax(Q(EᵀK)ᵀ/√d)(EᵀV). E's shape depends on the token count,
 * so the supernet keeps one per patch size (sliced on k).
 */
import { SEQ_WEIGHT, type MixerDecl } from './decl.js';

export const linformer: MixerDecl = {
  projections: true,
  params(net, k, emit) {
    emit(k.prefix, 'linformer.e', SEQ_WEIGHT, net.T, k.b.features!);
  },
  // EᵀK and EᵀV (k·n·I each), Q(EᵀK)ᵀ and A(EᵀV) (n·k·I each)
  macs: (_net, k, c) => 4 * c.n * k.b.features! * k.I,
  acts: (net, k) => k.b.heads * net.T * k.b.features! + 2 * k.b.features! * k.I,
};
