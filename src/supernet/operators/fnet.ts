/** Forward of `fnet` (declaration: src/space/operators/fnet.ts): parameter-free. */
import { fnetMixing } from '../fn/fnet.js';
import type { TokenMixer } from './mixing.js';

export const fnet: TokenMixer = {
  projections: false,
  forward: (h) => fnetMixing(h),
};
