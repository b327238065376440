/**
 * `xnorm` (UFO-ViT): no softmax. Per head KV = KᵀV first, XNorm(x) = γ·x/‖x‖₂ over the last axis
 * of Q and of KV with a learnable γ per head, out = XNorm(Q)·XNorm(KV): linear in n.
 */
import { HEAD_SCALE, type MixerDecl } from './decl.js';

export const xnorm: MixerDecl = {
  projections: true,
  params(_net, k, emit) {
    emit(k.prefix, 'xnorm.gamma', HEAD_SCALE, k.b.heads);
  },
  // KᵀV (d·n·d) and Q·KV (n·d·d) per head
  macs: (_net, k, c) => 2 * c.n * k.I * k.d,
  acts: (net, k) => 2 * net.T * k.I + 2 * k.I * k.d,
};
