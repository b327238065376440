/**
 * 3×3 convolutions (NHWC, zero padding 1) written for the wasm backend, which has no
 * Conv2DBackpropFilter and no depthwise-conv backprop:
 *  - `im2col3x3` is one SIMD kernel each way on wasm (src/backend/simd-kernels.ts); elsewhere it
 *    gathers the nine taps with pad + slice + reshape only (a stride s is a slice of s·Ho rows
 *    reshaped to [Ho, s] and cut to the first), so its backward is pads and slices;
 *  - `conv3x3` is im2col followed by one plain 2-D product (`linear`, XNNPACK's fast path);
 *  - `depthwiseConv3x3` (stride 1) is one SIMD kernel each way on wasm (src/backend/simd-kernels.ts),
 *    elsewhere nine shifted slices times per-channel weights, with a hand-written backward of the
 *    same form; both save only x and w.
 * Tap order everywhere: r = 3·ky + kx, the row order of tf.conv2d's filter [3, 3, C, Cout]
 * reshaped to [9·C, Cout] (and of tf.depthwiseConv2d's [3, 3, C, 1] reshaped to [9, C]).
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../../errors.js';
import { COL2IM, DEPTHWISE, DEPTHWISE_GRAD, fusedKernelsActive, IM2COL, outSide } from '../../backend/simd-kernels.js';
import { linear } from '../ops.js';
import { checkShape } from './common.js';


function checkStride(op: string, stride: number): void {
  if (!Number.isInteger(stride) || stride < 1) throw new VitasError(`${op}: stride must be a positive integer, got ${stride}`);
}

/** The nine taps of x [B, H, W, C] as [B, Ho, Wo, 9·C], tap-major. */
function taps(x: tf.Tensor4D, stride: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const ho = outSide(h, stride), wo = outSide(w, stride);
  // pad 1 before; after, enough that every tap's window of s·Ho rows fits
  const xp = tf.pad(x, [[0, 0], [1, stride * ho + 1 - h], [1, stride * wo + 1 - w], [0, 0]]);
  const parts: tf.Tensor4D[] = [];
  for (let ky = 0; ky < 3; ky++)
    for (let kx = 0; kx < 3; kx++) {
      let t = tf.slice(xp, [0, ky, kx, 0], [b, stride * ho, stride * wo, c]);
      if (stride > 1) t = tf.reshape(tf.slice(tf.reshape(t, [b, ho, stride, wo, stride, c]), [0, 0, 0, 0, 0, 0], [b, ho, 1, wo, 1, c]), [b, ho, wo, c]);
      parts.push(t);
    }
  return tf.concat(parts, 3);
}

/** The patches in one kernel each way (wasm); saves nothing for the backward. */
function im2colFused(x: tf.Tensor4D, stride: number): tf.Tensor2D {
  const shape = x.shape;
  const f = tf.customGrad(((xs: tf.Tensor4D) => ({
    value: tf.engine().runKernel(IM2COL, { x: xs }, { stride }) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor) => [tf.engine().runKernel(COL2IM, { dcols: dy }, { stride, shape }) as tf.Tensor4D],
  })) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D) => tf.Tensor2D;
  return f(x);
}

/** x [B, H, W, C] (NHWC) → the 3×3 patches [B·Ho·Wo, 9·C] of a pad-1 convolution with `stride`. */
export function im2col3x3(x: tf.Tensor4D, stride: number): tf.Tensor2D {
  checkStride('im2col3x3', stride);
  if (x.rank !== 4) throw new VitasError(`im2col3x3: x must be NHWC [batch, height, width, channels], got [${x.shape.join(', ')}]`);
  return fusedKernelsActive() ? im2colFused(x, stride) : im2col3x3Ops(x, stride);
}

/** The pads-and-slices form, whatever the backend (for tests against the kernel). */
export function im2col3x3Ops(x: tf.Tensor4D, stride: number): tf.Tensor2D {
  checkStride('im2col3x3', stride);
  return tf.tidy(() => {
    const t = taps(x, stride);
    return tf.reshape(t, [t.shape[0] * t.shape[1] * t.shape[2], t.shape[3]]);
  });
}

/** 3×3 convolution, pad 1: x [B, H, W, C], w [9·C, Cout] (tap-major rows), b [Cout] → [B, Ho, Wo, Cout]. */
export function conv3x3(x: tf.Tensor4D, w: tf.Tensor2D, b: tf.Tensor1D, stride: number): tf.Tensor4D {
  checkStride('conv3x3', stride);
  const [batch, h, wd, c] = x.shape;
  checkShape('conv3x3', 'w', w, [9 * c, w.shape[1]]);
  checkShape('conv3x3', 'b', b, [w.shape[1]]);
  return tf.tidy(() => tf.reshape(linear(im2col3x3(x, stride), w, b), [batch, outSide(h, stride), outSide(wd, stride), w.shape[1]]));
}

/** Σ_r slice_r(xp) · w[r] over the nine taps of a padded [B, H+2, W+2, C], summed as it goes (three buffers live at most). */
function nineTaps(xp: tf.Tensor4D, w: tf.Tensor2D, h: number, wd: number, flip: boolean): tf.Tensor4D {
  const [b, , , c] = xp.shape;
  let acc: tf.Tensor4D | undefined;
  for (let r = 0; r < 9; r++) {
    const next = tf.tidy(() => {
      const term = tf.mul(tf.slice(xp, [0, Math.floor(r / 3), r % 3, 0], [b, h, wd, c]), tf.reshape(tf.slice(w, [flip ? 8 - r : r, 0], [1, c]), [c]));
      return (acc ? tf.add(acc, term) : term) as tf.Tensor4D;
    });
    acc?.dispose();
    acc = next;
  }
  return acc!;
}

const padded = (x: tf.Tensor4D): tf.Tensor4D => tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);

const depthwise = tf.customGrad(((x: tf.Tensor4D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  const [, h, wd] = x.shape;
  save([x, w]);
  return {
    value: nineTaps(padded(x), w, h, wd, false),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor2D];
      const g = dy as tf.Tensor4D;
      const [b, , , c] = xs.shape;
      // dx[y, x] = Σ_r w_r · dy[y + 1 − ky, x + 1 − kx]: the taps on dy with the weights reversed
      const dx = nineTaps(padded(g), ws, h, wd, true);
      // dw[r] = Σ over batch and positions of dy · x shifted by tap r
      const xp = padded(xs);
      const dw = tf.stack(Array.from({ length: 9 }, (_, r) => tf.tidy(() => tf.sum(tf.mul(tf.slice(xp, [0, Math.floor(r / 3), r % 3, 0], [b, h, wd, c]), g), [0, 1, 2]))));
      return [dx, dw];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D, w: tf.Tensor2D) => tf.Tensor4D;

/** The same with the bias, in one kernel each way (wasm). */
const depthwiseFused = tf.customGrad(((x: tf.Tensor4D, w: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.engine().runKernel(DEPTHWISE, { x, w, b }) as tf.Tensor4D,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(DEPTHWISE_GRAD, { dy, x: saved[0]!, w: saved[1]! }) as tf.Tensor[],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor4D;

/** Depthwise 3×3 convolution, pad 1, stride 1: x [B, H, W, C], w [9, C] (tap-major), b [C] → [B, H, W, C]. */
export function depthwiseConv3x3(x: tf.Tensor4D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor4D {
  if (x.rank !== 4) throw new VitasError(`depthwiseConv3x3: x must be NHWC [batch, height, width, channels], got [${x.shape.join(', ')}]`);
  checkShape('depthwiseConv3x3', 'w', w, [9, x.shape[3]]);
  checkShape('depthwiseConv3x3', 'b', b, [x.shape[3]]);
  return fusedKernelsActive() ? depthwiseFused(x, w, b) : depthwiseConv3x3Ops(x, w, b);
}

/** The slices-and-products form, whatever the backend (for tests against the kernel). */
export function depthwiseConv3x3Ops(x: tf.Tensor4D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => tf.add(depthwise(x, w), b));
}
