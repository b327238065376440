/** The registry of mixer forwards; each module pairs with its declaration in src/space/operators. */
import type { Attention } from '../../space/spec.js';
import { fnet } from './fnet.js';
import { linformer } from './linformer.js';
import type { MixerForward } from './mixing.js';
import { mixer } from './mixer.js';
import { nystrom } from './nystrom.js';
import { performer } from './performer.js';
import { softmax } from './softmax.js';
import { xnorm } from './xnorm.js';
import { dual } from './dual.js';

export const MIXER_FORWARDS: Readonly<Record<Attention, MixerForward>> = { softmax, performer, linformer, nystrom, xnorm, fnet, mixer, dual };

export type { MixCtx, MixerForward, ProjectionMixer, StreamMixer, Streams, TokenMixer } from './mixing.js';
export { classAttentionLayer } from './class-attention.js';
export { tokenPermutation } from './softmax.js';
export type { ParamSource } from './source.js';
