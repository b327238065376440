/** Forward of `mixer` (declaration: src/space/operators/mixer.ts): the token-mixing MLP. */
import { tokenMixing } from '../fn/mixer.js';
import { weightOf } from './source.js';
import type { TokenMixer } from './mixing.js';

export const mixer: TokenMixer = {
  projections: false,
  forward(h, c) {
    const f1 = weightOf(c.ps, `${c.k.prefix}.mixer.fc1`);
    const f2 = weightOf(c.ps, `${c.k.prefix}.mixer.fc2`);
    return tokenMixing(h, f1.w, f1.b, f2.w, f2.b);
  },
};
