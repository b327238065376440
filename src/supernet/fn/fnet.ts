/**
 * FNet token mixing (Vision X-formers' FNet, after Lee-Thorp et al.): Re(DFT_tokens(DFT_channels(X)))
 * per image. wasm has no FFT kernel, so the DFTs are products with cos/sin matrices:
 * Re(F_N X F_E) = C_N X C_E − S_N X S_E, with F = C − iS, C[j,k] = cos(2πjk/n), S[j,k] = sin(2πjk/n).
 * Both are plain 2-D products (XNNPACK's fast path on wasm):
 *   Y = X_rows·[C_E | S_E]                 [B·N, E] × [E, 2E]
 *   out = [C_N | −S_N] · Y regrouped          [N, 2N] × [2N, B·E]
 * C and S are symmetric, so the map is its own adjoint: the backward is the same two products on dy.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../../errors.js';
import { constant } from './common.js';

/** cos and sin of 2πjk/n, j, k < n, with jk reduced mod n first (exact angles in float64). */
function dft(n: number): { cos: Float64Array; sin: Float64Array } {
  const cos = new Float64Array(n * n), sin = new Float64Array(n * n);
  for (let j = 0; j < n; j++)
    for (let k = 0; k < n; k++) {
      const a = (2 * Math.PI * ((j * k) % n)) / n;
      cos[j * n + k] = Math.cos(a);
      sin[j * n + k] = Math.sin(a);
    }
  return { cos, sin };
}

/** [C_E | S_E], [E, 2E]. */
const channelDft = (e: number): tf.Tensor2D =>
  constant(`fnet-channels:${e}`, () => {
    const { cos, sin } = dft(e);
    const m = new Float32Array(2 * e * e);
    for (let j = 0; j < e; j++)
      for (let k = 0; k < e; k++) {
        m[j * 2 * e + k] = cos[j * e + k]!;
        m[j * 2 * e + e + k] = sin[j * e + k]!;
      }
    return tf.tensor2d(m, [e, 2 * e]);
  });

/** [C_N | −S_N], [N, 2N]. */
const tokenDft = (n: number): tf.Tensor2D =>
  constant(`fnet-tokens:${n}`, () => {
    const { cos, sin } = dft(n);
    const m = new Float32Array(2 * n * n);
    for (let j = 0; j < n; j++)
      for (let k = 0; k < n; k++) {
        m[j * 2 * n + k] = cos[j * n + k]!;
        m[j * 2 * n + n + k] = -sin[j * n + k]!;
      }
    return tf.tensor2d(m, [n, 2 * n]);
  });

function mix(x: tf.Tensor3D): tf.Tensor3D {
  const [b, n, e] = x.shape;
  const y = tf.matMul(tf.reshape(x, [b * n, e]), channelDft(e)); // [B·N, 2E]: X·C_E and X·S_E
  const stacked = tf.reshape(tf.transpose(tf.reshape(y, [b, n, 2, e]), [2, 1, 0, 3]), [2 * n, b * e]);
  const out = tf.matMul(tokenDft(n), stacked); // [N, B·E]
  return tf.transpose(tf.reshape(out, [n, b, e]), [1, 0, 2]);
}

const fnetOp = tf.customGrad(((x: tf.Tensor3D) => ({
  value: mix(x),
  gradFunc: (dy: tf.Tensor) => [mix(dy as tf.Tensor3D)],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor3D) => tf.Tensor3D;

/** x [B, N, E] → Re(DFT over tokens of DFT over channels of x) [B, N, E]. Parameter-free. */
export function fnetMixing(x: tf.Tensor3D): tf.Tensor3D {
  if (x.rank !== 3) throw new VitasError(`fnetMixing: x must be [batch, tokens, channels], got [${x.shape.join(', ')}]`);
  return fnetOp(x);
}

/**
 * The multiply-accumulates `fnetMixing` performs per image: 2NE² (channel products) + 2N²E
 * (token products); an FFT would need O(NE·log(NE)).
 */
export function fnetProducts(n: number, e: number): number {
  return 2 * n * e * e + 2 * n * n * e;
}
