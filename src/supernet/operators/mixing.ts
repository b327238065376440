/** The forward contract of a token mixer; one module per mixer implements it (registry in index.ts). */
import type * as tf from '@tensorflow/tfjs-core';
import type { Blk } from '../../space/operators/decl.js';
import type { ParamSource } from './source.js';

/** What a mixer's forward may need beyond its inputs. */
export interface MixCtx {
  /** batch */
  B: number;
  /** tokens held (patches + class token) */
  T: number;
  E: number;
  /** patch tokens and class tokens */
  P: number;
  cls: number;
  /** the patch grid (RoPE's rows and columns) */
  gh: number;
  gw: number;
  /** rotate q and k (pos "rope") */
  rope: boolean;
  k: Blk;
  /** block index and recursive pass (0-based): SReT's fixed token permutation depends on both */
  block: number;
  pass: number;
  /** sliced groups of this pass */
  groups: number;
  ps: ParamSource;
  /** the streams a forward carries beside the tokens (Dual-ViT's semantic tokens [B, M, E], once formed) */
  streams: Streams;
}

/** Token streams carried through the blocks of one forward; a stream mixer reads and replaces them. */
export interface Streams {
  semantic?: tf.Tensor3D;
}

/** A mixer on the block's q, k, v [B, T, I] (after RoPE where the spec asks), returning [B, T, I] before the output projection. */
export interface ProjectionMixer {
  projections: true;
  forward(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, c: MixCtx): tf.Tensor3D;
}

/** A mixer on the normalised tokens [B, T, E] themselves (no q, k, v), returning [B, T, E]. */
export interface TokenMixer {
  projections: false;
  forward(h: tf.Tensor3D, c: MixCtx): tf.Tensor3D;
}

/**
 * A mixer on the normalised tokens [B, T, E] that also carries a stream of its own (Dual-ViT): it
 * forms the stream when none is there yet, returns [B, T, E] (after its output projection) and
 * leaves the updated stream in `c.streams`.
 */
export interface StreamMixer {
  projections: true;
  stream: true;
  forward(h: tf.Tensor3D, c: MixCtx): tf.Tensor3D;
}

export type MixerForward = ProjectionMixer | TokenMixer | StreamMixer;
