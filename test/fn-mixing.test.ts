import { expect } from 'chai';
import { initBackend, VitasError } from '../src/index.js';
import { tf } from '../src/backend/index.js';
import { fnetMixing } from '../src/supernet/fn/fnet.js';
import { tokenMixing } from '../src/supernet/fn/mixer.js';
import { conv3x3, depthwiseConv3x3, depthwiseConv3x3Ops, im2col3x3, im2col3x3Ops } from '../src/supernet/fn/conv.js';
import { fusedKernelsActive } from '../src/backend/simd-kernels.js';
import { rope2d } from '../src/supernet/fn/rope.js';
import { checkGradients, maxDiff, randn } from './fn-helpers.js';

type T2 = tf.Tensor2D;
type T3 = tf.Tensor3D;
type T4 = tf.Tensor4D;

const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

describe('token-mixing, convolution and position functions (src/supernet/fn)', () => {
  before(async () => {
    await initBackend();
  });

  describe('fnetMixing', () => {
    it('equals the real part of the 2-D DFT over tokens and channels (a naive complex DFT)', () => {
      for (const [b, n, e] of [[2, 5, 6], [1, 7, 3], [1, 1, 4]] as const) {
        const x = randn([b, n, e], 60 + n);
        const xv = x.dataSync();
        const ref = new Float64Array(b * n * e);
        for (let i = 0; i < b; i++)
          for (let u = 0; u < n; u++)
            for (let w = 0; w < e; w++) {
              let re = 0;
              for (let j = 0; j < n; j++) for (let c = 0; c < e; c++) re += xv[(i * n + j) * e + c]! * Math.cos(2 * Math.PI * ((u * j) / n + (w * c) / e));
              ref[(i * n + u) * e + w] = re;
            }
        expect(maxDiff(fnetMixing(x as T3).dataSync(), ref), `${[b, n, e]}`).to.be.below(2e-5 * n * e);
      }
    });
    it('backward matches finite differences', () => {
      checkGradients((x) => fnetMixing(x as T3), [randn([2, 5, 4], 61)], 62);
    });
    it('leaks no tensor beyond its cached DFT matrices, and rejects a 2-D input', () => {
      const x = randn([2, 3, 4], 63) as T3;
      fnetMixing(x).dispose();
      const before = tf.memory().numTensors;
      tf.dispose([fnetMixing(x), ...tf.grads((a: tf.Tensor) => tf.sum(fnetMixing(a as T3)))([x])]);
      expect(tf.memory().numTensors).to.equal(before);
      expect(() => fnetMixing(randn([3, 4], 1) as unknown as T3)).to.throw(VitasError, /fnetMixing: x must be \[batch, tokens, channels\]/);
    });
  });

  describe('tokenMixing', () => {
    it('applies the MLP N → T → GELU → N along the tokens of every channel', () => {
      const [b, n, e, t] = [2, 5, 3, 4];
      const x = randn([b, n, e], 70), w1 = randn([n, t], 71, 0.5), b1 = randn([t], 72, 0.1), w2 = randn([t, n], 73, 0.5), b2 = randn([n], 74, 0.1);
      const [xv, w1v, b1v, w2v, b2v] = [x, w1, b1, w2, b2].map((z) => z.dataSync());
      const ref = new Float64Array(b * n * e);
      for (let i = 0; i < b; i++)
        for (let c = 0; c < e; c++) {
          const hid = Array.from({ length: t }, (_, s) => geluTanh(b1v[s]! + Array.from({ length: n }, (_, j) => xv[(i * n + j) * e + c]! * w1v[j * t + s]!).reduce((p, q) => p + q, 0)));
          for (let j = 0; j < n; j++) ref[(i * n + j) * e + c] = b2v[j]! + hid.reduce((p, h, s) => p + h * w2v[s * n + j]!, 0);
        }
      expect(maxDiff(tokenMixing(x as T3, w1 as T2, b1 as tf.Tensor1D, w2 as T2, b2 as tf.Tensor1D).dataSync(), ref)).to.be.below(1e-5);
    });
    it('backward matches finite differences for x and all four weights', () => {
      const [b, n, e, t] = [2, 4, 3, 5];
      checkGradients((x, w1, b1, w2, b2) => tokenMixing(x as T3, w1 as T2, b1 as tf.Tensor1D, w2 as T2, b2 as tf.Tensor1D), [randn([b, n, e], 75), randn([n, t], 76, 0.5), randn([t], 77, 0.1), randn([t, n], 78, 0.5), randn([n], 79, 0.1)], 80);
    });
    it('rejects weights for another token count', () => {
      expect(() => tokenMixing(randn([1, 4, 2], 1) as T3, randn([5, 3], 2) as T2, randn([3], 3) as tf.Tensor1D, randn([3, 4], 4) as T2, randn([4], 5) as tf.Tensor1D)).to.throw(VitasError, /tokenMixing: w1 must have shape \[4, 3\]/);
    });
  });

  describe('im2col3x3 and conv3x3', () => {
    it('im2col lays out the nine zero-padded taps of each output position, tap-major', () => {
      const [b, h, w, c] = [2, 5, 4, 3];
      const x = randn([b, h, w, c], 90);
      const xv = x.dataSync();
      for (const s of [1, 2, 3]) {
        const cols = im2col3x3(x as T4, s);
        const ho = Math.floor((h - 1) / s) + 1, wo = Math.floor((w - 1) / s) + 1;
        expect(cols.shape).to.deep.equal([b * ho * wo, 9 * c]);
        const ref = new Float64Array(b * ho * wo * 9 * c);
        for (let i = 0; i < b; i++)
          for (let y = 0; y < ho; y++)
            for (let z = 0; z < wo; z++)
              for (let r = 0; r < 9; r++)
                for (let ch = 0; ch < c; ch++) {
                  const yy = y * s + Math.floor(r / 3) - 1, zz = z * s + (r % 3) - 1;
                  const inside = yy >= 0 && yy < h && zz >= 0 && zz < w;
                  ref[((i * ho + y) * wo + z) * 9 * c + r * c + ch] = inside ? xv[((i * h + yy) * w + zz) * c + ch]! : 0;
                }
        expect(maxDiff(cols.dataSync(), ref), `stride ${s}`).to.equal(0);
      }
    });
    it('conv3x3 equals tf.conv2d (pad 1) at strides 1, 2 and 3, odd and even sides', () => {
      for (const [h, w, s] of [[5, 6, 1], [5, 6, 2], [7, 4, 2], [8, 8, 3]] as const) {
        const [b, c, cout] = [2, 3, 4];
        const x = randn([b, h, w, c], 91 + s), wt = randn([9 * c, cout], 92, 0.3), bias = randn([cout], 93, 0.1);
        const ref = tf.add(tf.conv2d(x as T4, tf.reshape(wt, [3, 3, c, cout]) as T4, s, [[0, 0], [1, 1], [1, 1], [0, 0]]), bias);
        const out = conv3x3(x as T4, wt as T2, bias as tf.Tensor1D, s);
        expect(out.shape).to.deep.equal(ref.shape);
        expect(maxDiff(out.dataSync(), ref.dataSync()), `${[h, w, s]}`).to.be.below(1e-5);
      }
    });
    it('conv3x3 backward matches finite differences for x, w and b at stride 2', () => {
      const [b, h, w, c, cout] = [2, 5, 4, 2, 3];
      checkGradients((x, wt, bias) => conv3x3(x as T4, wt as T2, bias as tf.Tensor1D, 2), [randn([b, h, w, c], 94), randn([9 * c, cout], 95, 0.3), randn([cout], 96, 0.1)], 97);
    });
    it('im2col3x3: the SIMD kernels (wasm) give the pads-and-slices form\'s patches and gradient, strides 1–3, odd sides and ragged channel counts included', function () {
      if (!fusedKernelsActive()) this.skip();
      for (const [b, h, w, c, s] of [[1, 1, 1, 1, 1], [2, 5, 4, 1, 2], [2, 7, 7, 20, 2], [1, 6, 5, 6, 3], [3, 3, 4, 4, 1]] as const) {
        const run = (f: typeof im2col3x3): tf.Tensor[] => {
          const x = randn([b, h, w, c], 120);
          const probe = randn(im2col3x3Ops(x as T4, s).shape, 121);
          const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => tf.sum(tf.mul(f(x as T4, s), probe)))([x]);
          return [f(x as T4, s), value, ...grads];
        };
        const fused = run(im2col3x3), ops = run(im2col3x3Ops);
        fused.forEach((t, i) => {
          expect(t.shape, `${[b, h, w, c, s]} output ${i}`).to.deep.equal(ops[i]!.shape);
          expect(maxDiff(t.dataSync(), ops[i]!.dataSync()), `${[b, h, w, c, s]} output ${i}`).to.be.below(1e-5);
        });
      }
    });
    it('rejects a filter for another channel count and a zero stride', () => {
      const x = randn([1, 4, 4, 2], 1) as T4;
      expect(() => conv3x3(x, randn([9, 3], 2) as T2, randn([3], 3) as tf.Tensor1D, 1)).to.throw(VitasError, /conv3x3: w must have shape \[18, 3\]/);
      expect(() => im2col3x3(x, 0)).to.throw(VitasError, /stride must be a positive integer/);
    });
  });

  describe('depthwiseConv3x3', () => {
    it('equals tf.depthwiseConv2d (pad 1, stride 1) plus the bias', () => {
      const [b, h, w, c] = [2, 5, 6, 3];
      const x = randn([b, h, w, c], 100), wt = randn([9, c], 101, 0.3), bias = randn([c], 102, 0.1);
      const ref = tf.add(tf.depthwiseConv2d(x as T4, tf.reshape(wt, [3, 3, c, 1]) as T4, 1, 'same'), bias);
      expect(maxDiff(depthwiseConv3x3(x as T4, wt as T2, bias as tf.Tensor1D).dataSync(), ref.dataSync())).to.be.below(1e-5);
    });
    it('backward matches finite differences for x, w and b', () => {
      const [b, h, w, c] = [2, 4, 5, 3];
      checkGradients((x, wt, bias) => depthwiseConv3x3(x as T4, wt as T2, bias as tf.Tensor1D), [randn([b, h, w, c], 103), randn([9, c], 104, 0.3), randn([c], 105, 0.1)], 106);
    });
    it('the SIMD kernels (wasm) give the slices form\'s values and gradients, 1×1 grids and ragged channel counts included', function () {
      if (!fusedKernelsActive()) this.skip();
      for (const [b, h, w, c] of [[1, 1, 1, 1], [2, 1, 3, 5], [3, 2, 2, 4], [2, 7, 7, 80], [1, 4, 6, 7]] as const) {
        const run = (f: typeof depthwiseConv3x3): tf.Tensor[] => {
          const x = randn([b, h, w, c], 110), wt = randn([9, c], 111, 0.3), bias = randn([c], 112, 0.1), probe = randn([b, h, w, c], 113);
          const { value, grads } = tf.valueAndGrads((x: tf.Tensor, wt: tf.Tensor, bias: tf.Tensor) => tf.sum(tf.mul(f(x as T4, wt as T2, bias as tf.Tensor1D), probe)))([x, wt, bias]);
          return [f(x as T4, wt as T2, bias as tf.Tensor1D), value, ...grads];
        };
        const fused = run(depthwiseConv3x3), ops = run(depthwiseConv3x3Ops);
        fused.forEach((t, i) => {
          expect(t.shape, `${[b, h, w, c]} output ${i}`).to.deep.equal(ops[i]!.shape);
          expect(maxDiff(t.dataSync(), ops[i]!.dataSync()), `${[b, h, w, c]} output ${i}`).to.be.below(1e-4);
        });
      }
    });
  });

  describe('rope2d', () => {
    /** The documented convention, position by position. */
    function ropeRef(x: tf.Tensor, heads: number, gw: number, cls: number): Float64Array {
      const [b, t, width] = x.shape as [number, number, number];
      const d = width / heads;
      const xv = x.dataSync();
      const out = Float64Array.from(xv);
      for (let i = 0; i < b; i++)
        for (let tok = cls; tok < t; tok++) {
          const p = tok - cls;
          const pos = [Math.floor(p / gw), p % gw];
          for (let h = 0; h < heads; h++)
            for (let half = 0; half < 2; half++)
              for (let pair = 0; pair < d / 4; pair++) {
                const angle = pos[half]! * Math.pow(10000, (-2 * pair) / (d / 2));
                const at = (i * t + tok) * width + h * d + half * (d / 2) + 2 * pair;
                const [a, c] = [xv[at]!, xv[at + 1]!];
                out[at] = a * Math.cos(angle) - c * Math.sin(angle);
                out[at + 1] = a * Math.sin(angle) + c * Math.cos(angle);
              }
        }
      return out;
    }
    it('rotates each head\'s first half by the row and second half by the column, class token untouched', () => {
      for (const [b, heads, d, gh, gw, cls] of [[2, 2, 8, 3, 4, 1], [1, 1, 4, 2, 3, 0], [1, 3, 12, 5, 5, 1]] as const) {
        const x = randn([b, cls + gh * gw, heads * d], 110 + d);
        const out = rope2d(x as T3, heads, gh, gw, cls);
        expect(maxDiff(out.dataSync(), ropeRef(x, heads, gw, cls)), `${[b, heads, d, gh, gw, cls]}`).to.be.below(1e-5);
        if (cls) expect(maxDiff(tf.slice(out, [0, 0, 0], [b, 1, heads * d]).dataSync(), tf.slice(x, [0, 0, 0], [b, 1, heads * d]).dataSync())).to.equal(0);
      }
    });
    it('makes q·k depend only on the 2-D offset between the tokens', () => {
      const [heads, d, gh, gw] = [1, 8, 4, 4];
      const qv = randn([1, 1, d], 120), kv = randn([1, 1, d], 121);
      const q = rope2d(tf.tile(qv, [1, gh * gw, 1]) as T3, heads, gh, gw, 0), k = rope2d(tf.tile(kv, [1, gh * gw, 1]) as T3, heads, gh, gw, 0);
      const dots = tf.matMul(tf.reshape(q, [gh * gw, d]), tf.reshape(k, [gh * gw, d]), false, true).dataSync();
      const dot = (s: number, t: number): number => dots[s * gh * gw + t]!;
      // token (0,0)·(1,2) and (2,1)·(3,3) share the offset (1, 2); (0,0)·(2,1) has another
      expect(dot(0, 1 * gw + 2)).to.be.closeTo(dot(2 * gw + 1, 3 * gw + 3), 1e-5);
      expect(Math.abs(dot(0, 1 * gw + 2) - dot(0, 2 * gw + 1))).to.be.above(1e-3);
    });
    it('backward matches finite differences (the inverse rotation)', () => {
      checkGradients((x) => rope2d(x as T3, 2, 2, 3, 1), [randn([2, 7, 8], 122)], 123);
    });
    it('rejects a head dim that is not a multiple of 4 and a token count off the grid', () => {
      expect(() => rope2d(randn([1, 5, 6], 1) as T3, 1, 2, 2, 1)).to.throw(VitasError, /must be a whole multiple of 4/);
      expect(() => rope2d(randn([1, 6, 8], 1) as T3, 2, 2, 2, 1)).to.throw(VitasError, /x has 6 tokens, the grid 2×2 plus 1 class token\(s\) make 5/);
    });
  });
});
