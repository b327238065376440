/**
 * Depthwise 1-D convolution along the token axis (PyTorch's cross-correlation, zero padding
 * `kernel >> 1` on each side, no bias), one kernel per head applied to that head's d columns:
 * out[b, t, h·d + j] = Σ_r w[h, r] · x[b, t + r − ⌊K/2⌋, h·d + j]. The Nyströmformer reference's
 * residual on V (Conv2d(heads, heads, (K, 1), groups = heads)). Shifted slices times weights,
 * with a hand-written backward of the same form that saves only x and w (wasm has no
 * depthwise-conv backprop, and the autodiff of K products would keep K shifted copies).
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../../errors.js';

/** w [heads, K] → [K, heads·d]: each head's weight repeated over its d columns. */
function perColumn(w: tf.Tensor2D, d: number): tf.Tensor2D {
  const [heads, kernel] = w.shape;
  return tf.reshape(tf.mul(tf.reshape(tf.transpose(w), [kernel, heads, 1]), tf.ones([1, 1, d])), [kernel, heads * d]);
}

/**
 * Σ_r x[:, r : r + n, :] · wc[r] over the K taps, x already padded to n + K − 1 tokens; summed
 * as it goes, so at most three [B, n, C] buffers live at once whatever K is.
 */
function taps(xp: tf.Tensor3D, wc: tf.Tensor2D, n: number, flip: boolean): tf.Tensor3D {
  const [b, , c] = xp.shape;
  const kernel = wc.shape[0];
  let acc: tf.Tensor3D | undefined;
  for (let r = 0; r < kernel; r++) {
    const next = tf.tidy(() => {
      const term = tf.mul(tf.slice(xp, [0, r, 0], [b, n, c]), tf.slice(wc, [flip ? kernel - 1 - r : r, 0], [1, c]));
      return (acc ? tf.add(acc, term) : term) as tf.Tensor3D;
    });
    acc?.dispose();
    acc = next;
  }
  return acc!;
}

const conv = tf.customGrad(((x: tf.Tensor3D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  const [, n, c] = x.shape;
  const [heads, kernel] = w.shape;
  const d = c / heads;
  const p = kernel >> 1;
  save([x, w]);
  return {
    value: taps(tf.pad(x, [[0, 0], [p, kernel - 1 - p], [0, 0]]), perColumn(w, d), n, false),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor3D, tf.Tensor2D];
      const g = dy as tf.Tensor3D;
      const [b] = xs.shape;
      // dx[t] = Σ_r w_r · dy[t − r + p]: the same taps on dy padded the other way, weights reversed
      const dx = taps(tf.pad(g, [[0, 0], [kernel - 1 - p, p], [0, 0]]), perColumn(ws, d), n, true);
      // dw[h, r] = Σ over batch, tokens and the head's columns of dy · x shifted by r
      const xp = tf.pad(xs, [[0, 0], [p, kernel - 1 - p], [0, 0]]);
      const cols = Array.from({ length: kernel }, (_, r) => tf.tidy(() => tf.sum(tf.mul(tf.slice(xp, [0, r, 0], [b, n, c]), g), [0, 1])));
      const dw = tf.transpose(tf.sum(tf.reshape(tf.stack(cols), [kernel, heads, d]), 2));
      return [dx, dw];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor3D, w: tf.Tensor2D) => tf.Tensor3D;

/** x [B, N, heads·d], w [heads, K] → [B, N, heads·d]. */
export function sequenceDepthwiseConv(x: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor3D {
  if (w.rank !== 2 || w.shape[1] < 1 || x.rank !== 3 || x.shape[2] % w.shape[0] !== 0)
    throw new VitasError(`sequenceDepthwiseConv: w must be [heads, kernel] with heads dividing the width ${x.shape[2]}, got [${w.shape.join(', ')}]`);
  return conv(x, w);
}
