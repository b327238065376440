/** `softmax`: multi-head self-attention softmax(QKᵀ/√d)V, optionally inside SReT's sliced groups. */
import type { MixerDecl } from './decl.js';
import { groupedSquares } from './grouping.js';

export const softmax: MixerDecl = {
  projections: true,
  params() {},
  // QKᵀ and AV: I·n² each, or I·Σ n_g² inside groups
  macs: (net, k, c, groups) => 2 * k.I * (groups > 1 ? groupedSquares(net.P, groups, c.clsCounted) : c.n * c.n),
  // the attention maps, one per head
  acts: (net, k) => k.b.heads * net.T * net.T,
};
