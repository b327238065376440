/**
 * `fnet`: parameter-free mixing Re(DFT_tokens(DFT_channels(X))). The cost stated is FNet's
 * published one, a radix-2 FFT along each axis (n·E·⌈log₂n⌉ + n·E·⌈log₂E⌉); vitas computes the
 * real part with cos/sin DFT matrices as matrix products (wasm has no FFT kernel), which does
 * 2nE² + 2n²E MACs — `fnetImplementationMacs`, and the cost test holds the difference to that.
 */
import type { MixerDecl } from './decl.js';

const log2 = (x: number): number => Math.ceil(Math.log2(Math.max(2, x)));

export const fnet: MixerDecl = {
  projections: false,
  params() {},
  macs: (net, _k, c) => c.n * net.E * (log2(c.n) + log2(net.E)),
  acts: (net) => 3 * net.T * net.E,
};

/** The MACs vitas's DFT-as-matMul form really runs: C_N·(X·C_E) − S_N·(X·S_E). */
export const fnetImplementationMacs = (n: number, e: number): number => 2 * n * e * e + 2 * n * n * e;
