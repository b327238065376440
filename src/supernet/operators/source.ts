/**
 * Where a forward gets its parameters: the supernet hands out slices of shared weights, the
 * standalone model its own exact-size ones. A forward names parameters only; their shapes, init,
 * decay and sharing come from the operator declarations (src/space/operators).
 */
import type * as tf from '@tensorflow/tfjs-core';

export interface ParamSource {
  get(name: string): tf.Tensor;
}

export const weightOf = (ps: ParamSource, name: string): { w: tf.Tensor2D; b: tf.Tensor1D } => ({ w: ps.get(`${name}.w`) as tf.Tensor2D, b: ps.get(`${name}.b`) as tf.Tensor1D });
export const normOf = (ps: ParamSource, name: string): { gamma: tf.Tensor1D; beta: tf.Tensor1D } => ({ gamma: ps.get(`${name}.gamma`) as tf.Tensor1D, beta: ps.get(`${name}.beta`) as tf.Tensor1D });
