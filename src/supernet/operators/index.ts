/** The registry of mixer forwards; each module pairs with its declaration in src/space/operators. */
import type { Attention } from '../../space/spec.js';
import type { MixerForward } from './mixing.js';
import { softmax } from './softmax.js';

export const MIXER_FORWARDS: Partial<Record<Attention, MixerForward>> = { softmax };

export type { MixCtx, MixerForward, ProjectionMixer, TokenMixer } from './mixing.js';
export { tokenPermutation } from './softmax.js';
export type { ParamSource } from './source.js';
