/**
 * XCiT's local patch interaction (timm `xcit.py` `LPI`) on a token grid: depthwise 3×3 → GELU →
 * BatchNorm → depthwise 3×3, each conv with a bias, shape kept. The caller applies the LayerNorm
 * before it and the residual after it (and keeps the class token out of the grid).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gelu } from '../ops.js';
import { batchNorm, type NormMode } from './batchnorm.js';
import { checkShape } from './common.js';
import { depthwiseConv3x3 } from './conv.js';

export interface LpiWeights {
  /** depthwise kernels [9, C] (tap-major, r = 3·ky + kx) and biases [C] */
  conv1: { w: tf.Tensor2D; b: tf.Tensor1D };
  conv2: { w: tf.Tensor2D; b: tf.Tensor1D };
  bn: { gamma: tf.Tensor1D; beta: tf.Tensor1D };
  /** the BatchNorm's running statistics, read only when `mode` is `running` */
  running: () => { mean: tf.Tensor1D; variance: tf.Tensor1D };
}

/** x [B, H, W, C] (NHWC) → [B, H, W, C]; `layer` names the BatchNorm to a statistics recorder. */
export function localPatchInteraction(x: tf.Tensor4D, p: LpiWeights, mode: NormMode = 'running', layer = 'lpi.bn'): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  checkShape('localPatchInteraction', 'bn.gamma', p.bn.gamma, [c]);
  return tf.tidy(() => {
    const a = gelu(tf.reshape(depthwiseConv3x3(x, p.conv1.w, p.conv1.b), [b * h * w, c])) as tf.Tensor2D;
    const n = batchNorm(a, p.bn.gamma, p.bn.beta, mode, p.running, layer);
    return depthwiseConv3x3(tf.reshape(n, [b, h, w, c]), p.conv2.w, p.conv2.b);
  });
}
