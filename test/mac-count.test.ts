import { expect } from 'chai';
import { initBackend, linear, softmaxAttention, Rng } from '../src/index.js';
import { tf } from '../src/backend/index.js';
import { countMacs, type MacCount } from '../src/backend/mac-count.js';
import { fnetMixing, fnetProducts } from '../src/supernet/fn/fnet.js';
import { orthogonalFeatures, performerAttention } from '../src/supernet/fn/performer.js';
import { linformerAttention } from '../src/supernet/fn/linformer.js';
import { nystromAttention } from '../src/supernet/fn/nystrom.js';
import { xnormAttention } from '../src/supernet/fn/xnorm.js';
import { tokenMixing } from '../src/supernet/fn/mixer.js';
import { conv3x3, depthwiseConv3x3 } from '../src/supernet/fn/conv.js';
import { rope2d } from '../src/supernet/fn/rope.js';
import { randn } from './fn-helpers.js';

type T3 = tf.Tensor3D;

/** countMacs of f, its tensors disposed. */
function counted(f: () => unknown): MacCount {
  let result: MacCount | undefined;
  tf.tidy(() => {
    result = countMacs(() => void f());
  });
  return result!;
}
const macsOf = (f: () => unknown): number => counted(f).macs;

describe('countMacs', () => {
  before(async () => {
    await initBackend();
  });

  it('counts a batched product [B,n,k]×[B,k,m] as B·n·k·m under every transpose flag', () => {
    const [b, n, k, m] = [3, 5, 7, 4];
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = randn(ta ? [b, k, n] : [b, n, k], 1), c = randn(tb ? [b, m, k] : [b, k, m], 2);
      const got = counted(() => tf.matMul(a, c, ta, tb));
      tf.dispose([a, c]);
      expect(got.macs, `ta=${ta} tb=${tb}`).to.equal(b * n * k * m);
      expect(got.byKernel).to.deep.equal({ BatchMatMul: b * n * k * m });
    }
  });
  it('counts plain 2-D and fused (bias) products, and a broadcast batch', () => {
    expect(macsOf(() => tf.matMul(randn([6, 5], 3), randn([5, 2], 4)))).to.equal(60);
    expect(macsOf(() => linear(randn([6, 5], 3) as tf.Tensor2D, randn([5, 2], 4) as tf.Tensor2D, randn([2], 5) as tf.Tensor1D))).to.equal(60);
    expect(macsOf(() => tf.matMul(randn([2, 3, 6, 5], 3), randn([1, 1, 5, 4], 4)))).to.equal(2 * 3 * 6 * 5 * 4);
  });
  it('counts a convolution as output elements × window × input channels, depthwise without the channels', () => {
    const x = randn([2, 6, 5, 3], 6);
    expect(macsOf(() => tf.conv2d(x as tf.Tensor4D, randn([3, 3, 3, 4], 7) as tf.Tensor4D, 2, 'same'))).to.equal(2 * 3 * 3 * 4 * 9 * 3);
    expect(macsOf(() => tf.depthwiseConv2d(x as tf.Tensor4D, randn([3, 3, 3, 2], 8) as tf.Tensor4D, 1, 'same'))).to.equal(2 * 6 * 5 * 6 * 9);
  });
  it('counts vitas\'s fused attention kernels: QKᵀ and AV forward, four products backward', () => {
    const [b, n, heads, d] = [2, 6, 2, 4];
    const q = randn([b, n, heads * d], 9) as T3, k = randn([b, n, heads * d], 10) as T3, v = randn([b, n, heads * d], 11) as T3;
    const fwd = 2 * b * n * n * heads * d;
    expect(macsOf(() => softmaxAttention(q, k, v, heads))).to.equal(fwd);
    expect(macsOf(() => tf.grads((a: tf.Tensor) => tf.sum(softmaxAttention(a as T3, k, v, heads)))([q]))).to.equal(3 * fwd);
  });
  it('puts the registered kernels back afterwards, also when the function throws', () => {
    const names = ['BatchMatMul', '_FusedMatMul', 'Conv2D', 'DepthwiseConv2dNative'];
    const before = names.map((n) => tf.getKernel(n, tf.getBackend())?.kernelFunc);
    countMacs(() => tf.dispose(tf.matMul(tf.ones([2, 2]), tf.ones([2, 2]))));
    expect(() => countMacs(() => {
      throw new Error('boom');
    })).to.throw('boom');
    expect(names.map((n) => tf.getKernel(n, tf.getBackend())?.kernelFunc)).to.deep.equal(before);
    expect(macsOf(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])))).to.equal(12); // and still counts afresh
  });

  describe('the operator functions perform exactly these products (per image, N tokens, I = heads·d)', () => {
    const [b, n, heads, d] = [2, 10, 2, 4];
    const inner = heads * d;
    let q: T3, k: T3, v: T3;
    before(() => {
      [q, k, v] = [20, 21, 22].map((s) => randn([b, n, inner], s) as T3) as [T3, T3, T3];
    });
    after(() => tf.dispose([q, k, v]));
    it('fnet: fnetProducts(N, E) = 2NE² + 2N²E', () => {
      expect(macsOf(() => fnetMixing(q))).to.equal(b * fnetProducts(n, inner));
      expect(fnetProducts(n, inner)).to.equal(2 * n * inner * inner + 2 * n * n * inner);
    });
    it('performer: 4·N·m·I + N·m·heads', () => {
      const m = 7;
      const omega = tf.tensor2d(orthogonalFeatures(m, d, new Rng(1)), [m, d]);
      expect(macsOf(() => performerAttention(q, k, v, heads, omega))).to.equal(b * (4 * n * m * inner + n * m * heads));
    });
    it('linformer: 4·N·k·I', () => {
      const kk = 3;
      const e = randn([n, kk], 23) as tf.Tensor2D;
      expect(macsOf(() => linformerAttention(q, k, v, heads, e, e))).to.equal(b * 4 * n * kk * inner);
    });
    it('nystrom: 4·N′·m·I + m²·I + 24·m³·heads + N′·m²·heads, N′ the padded length (the conv adds element-wise work only)', () => {
      const m = 4, np = 12;
      const expected = b * (4 * np * m * inner + m * m * inner + 24 * m ** 3 * heads + np * m * m * heads);
      expect(macsOf(() => nystromAttention(q, k, v, heads, m))).to.equal(expected);
      expect(macsOf(() => nystromAttention(q, k, v, heads, m, { conv: randn([heads, 5], 24) as tf.Tensor2D }))).to.equal(expected);
    });
    it('xnorm: 2·N·I·d', () => {
      expect(macsOf(() => xnormAttention(q, k, v, heads, tf.ones([heads]) as tf.Tensor1D))).to.equal(b * 2 * n * inner * d);
    });
    it('mixer: 2·N·T·E', () => {
      const t = 6;
      expect(macsOf(() => tokenMixing(q, randn([n, t], 25) as tf.Tensor2D, randn([t], 26) as tf.Tensor1D, randn([t, n], 27) as tf.Tensor2D, randn([n], 28) as tf.Tensor1D))).to.equal(b * 2 * n * t * inner);
    });
    it('conv3x3: Ho·Wo·9C·Cout; depthwise 3×3 and rope: no products', () => {
      const x = randn([b, 7, 6, 3], 29) as tf.Tensor4D;
      expect(macsOf(() => conv3x3(x, randn([27, 5], 30) as tf.Tensor2D, randn([5], 31) as tf.Tensor1D, 2))).to.equal(b * 4 * 3 * 27 * 5);
      expect(macsOf(() => depthwiseConv3x3(x, randn([9, 3], 32) as tf.Tensor2D, randn([3], 33) as tf.Tensor1D))).to.equal(0);
      expect(macsOf(() => rope2d(randn([b, 5, 8], 34) as T3, 2, 2, 2, 1))).to.equal(0);
    });
  });
});
