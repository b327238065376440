/** The registry of token mixers (DESIGN §6), one declaration module each. */
import type { Attention } from '../spec.js';
import type { MixerDecl } from './decl.js';
import { fnet } from './fnet.js';
import { linformer } from './linformer.js';
import { mixer } from './mixer.js';
import { nystrom } from './nystrom.js';
import { performer } from './performer.js';
import { softmax } from './softmax.js';
import { xnorm } from './xnorm.js';
import { dual } from './dual.js';

export const MIXERS: Readonly<Record<Attention, MixerDecl>> = { softmax, performer, linformer, nystrom, xnorm, fnet, mixer, dual };

export { WEIGHT, BIAS, GAMMA, BETA, SCALAR, PATCH_WEIGHT, PATCH_BIAS, QK_WEIGHT, QK_BIAS, TOKEN, POS, SEQ_WEIGHT, HEAD_SCALE, HEAD_WEIGHT, FEATURES, SEMANTIC_TOKEN, RUNNING_MEAN, RUNNING_VAR, netOf, blkOf, blockPrefix, countingOf, type Share, type Init, type Kind, type Emit, type Net, type Blk, type Counting, type MixerDecl, type StreamDecl } from './decl.js';
export * from './grouping.js';
export { performerFeatures } from './performer.js';
export { nystromLength, NYSTROM_ITERS, NYSTROM_KERNEL } from './nystrom.js';
export { fnetImplementationMacs } from './fnet.js';
export { lpi, LPI_MACS_PER_TOKEN } from './lpi.js';
export { semanticSide, semanticStream } from './dual.js';
export { classBlockPrefix } from './class-attention.js';
