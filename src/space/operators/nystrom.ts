/**
 * `nystrom` (Nyströmformer, as lucidrains' nystrom-attention): m landmarks are segment means of Q and
 * K after zero-padding the sequence in front to a multiple of m; softmax(QK̃ᵀ)·pinv(softmax(Q̃K̃ᵀ))·
 * softmax(Q̃Kᵀ)V with a 6-step iterative Moore–Penrose inverse. With `conv`, the reference's
 * depthwise convolution along the sequence (kernel 33, one filter per head) is added on V.
 */
import { HEAD_WEIGHT, type Blk, type MixerDecl } from './decl.js';

export const NYSTROM_ITERS = 6;
export const NYSTROM_KERNEL = 33;

/** The padded sequence length the reference computes on. */
export const nystromLength = (n: number, m: number): number => Math.ceil(n / m) * m;

export const nystrom: MixerDecl = {
  projections: true,
  params(_net, k: Blk, emit) {
    if (k.b.conv) emit(k.prefix, 'nystrom.conv', HEAD_WEIGHT, k.b.heads, NYSTROM_KERNEL);
  },
  // per head on the padded length L: QK̃ᵀ, Q̃Kᵀ, (Q̃Kᵀ)V (L·m·d each), Q̃K̃ᵀ (m²·d), the pinv
  // (4 m×m products a step), softmax(QK̃ᵀ)·pinv (L·m²) and that times (Q̃Kᵀ)V (L·m·d); the
  // optional depthwise conv (kernel 33 along L) on V
  macs: (_net, k, c) => {
    const m = k.b.features!;
    const L = nystromLength(c.n, m);
    const h = k.b.heads;
    return 4 * L * m * k.I + m * m * k.I + 4 * NYSTROM_ITERS * m * m * m * h + L * m * m * h + (k.b.conv ? L * k.I * NYSTROM_KERNEL : 0);
  },
  acts: (net, k) => {
    const m = k.b.features!;
    return k.b.heads * (3 * nystromLength(net.T, m) * m + (2 + 3 * NYSTROM_ITERS) * m * m);
  },
};
