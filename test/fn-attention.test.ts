import { expect } from 'chai';
import { initBackend, Rng, VitasError, softmaxAttention } from '../src/index.js';
import { tf } from '../src/backend/index.js';
import { orthogonalFeatures, performerAttention, PERFORMER_EPS } from '../src/supernet/fn/performer.js';
import { linformerAttention } from '../src/supernet/fn/linformer.js';
import { nystromAttention } from '../src/supernet/fn/nystrom.js';
import { xnormAttention } from '../src/supernet/fn/xnorm.js';
import { assemble, checkGradients, get, head, mat, maxDiff, mul, randn, softmaxRows, tr, type Mat } from './fn-helpers.js';

type T3 = tf.Tensor3D;

/** FAVOR+ by the formula, in float64: the reference's stabilisers and ε. */
function performerRef(q: T3, k: T3, v: T3, heads: number, omega: Float32Array, m: number): Float64Array {
  const [bs, , inner] = q.shape;
  const d = inner / heads;
  const W = mat(m, d, (i, j) => omega[i * d + j]!);
  const dash = (x: Mat): { dash: Mat; half: number[] } => {
    const xs = mat(x.rows, d, (i, j) => get(x, i, j) * d ** -0.25);
    const half = Array.from({ length: x.rows }, (_, i) => 0.5 * Array.from({ length: d }, (_, j) => get(xs, i, j) ** 2).reduce((a, b) => a + b, 0));
    return { dash: mul(xs, tr(W)), half };
  };
  const qv = q.dataSync(), kv = k.dataSync(), vv = v.dataSync();
  let keyMax = -Infinity;
  for (let b = 0; b < bs; b++) for (let h = 0; h < heads; h++) for (const x of dash(head(kv, k.shape, heads, b, h)).dash.v) keyMax = Math.max(keyMax, x);
  return assemble(q.shape, heads, (b, h) => {
    const Q = dash(head(qv, q.shape, heads, b, h)), K = dash(head(kv, k.shape, heads, b, h));
    const phiQ = mat(Q.dash.rows, m, (i, j) => {
      let rowMax = -Infinity;
      for (let c = 0; c < m; c++) rowMax = Math.max(rowMax, get(Q.dash, i, c));
      return m ** -0.5 * (Math.exp(get(Q.dash, i, j) - Q.half[i]! - rowMax) + PERFORMER_EPS);
    });
    const phiK = mat(K.dash.rows, m, (i, j) => m ** -0.5 * (Math.exp(get(K.dash, i, j) - K.half[i]! - keyMax) + PERFORMER_EPS));
    const num = mul(phiQ, mul(tr(phiK), head(vv, v.shape, heads, b, h)));
    const den = mul(phiQ, mul(tr(phiK), mat(phiK.rows, 1, () => 1)));
    return mat(num.rows, num.cols, (i, j) => get(num, i, j) / get(den, i, 0));
  });
}

/** softmax(QKᵀ/√d)V per head in float64. */
function softmaxRef(q: T3, k: T3, v: T3, heads: number): Float64Array {
  const d = q.shape[2] / heads;
  return assemble(q.shape, heads, (b, h) => {
    const s = mul(head(q.dataSync(), q.shape, heads, b, h), tr(head(k.dataSync(), k.shape, heads, b, h)));
    return mul(softmaxRows(mat(s.rows, s.cols, (i, j) => get(s, i, j) / Math.sqrt(d))), head(v.dataSync(), v.shape, heads, b, h));
  });
}

function linformerRef(q: T3, k: T3, v: T3, heads: number, e: tf.Tensor2D, f: tf.Tensor2D): Float64Array {
  const d = q.shape[2] / heads;
  const E = mat(e.shape[0], e.shape[1], (i, j) => e.dataSync()[i * e.shape[1] + j]!);
  const F = mat(f.shape[0], f.shape[1], (i, j) => f.dataSync()[i * f.shape[1] + j]!);
  return assemble(q.shape, heads, (b, h) => {
    const kp = mul(tr(E), head(k.dataSync(), k.shape, heads, b, h));
    const vp = mul(tr(F), head(v.dataSync(), v.shape, heads, b, h));
    const s = mul(head(q.dataSync(), q.shape, heads, b, h), tr(kp));
    return mul(softmaxRows(mat(s.rows, s.cols, (i, j) => get(s, i, j) / Math.sqrt(d))), vp);
  });
}

/** The reference's Nyström steps with plain loops in float64 (front padding, segment means, global pinv scale, conv residual). */
function nystromRef(q: T3, k: T3, v: T3, heads: number, m: number, iters: number, conv?: tf.Tensor2D): Float64Array {
  const [bs, n, inner] = q.shape;
  const d = inner / heads;
  const pad = (m - (n % m)) % m, np = n + pad, l = np / m;
  const padded = (x: T3, b: number, h: number): Mat => {
    const hx = head(x.dataSync(), x.shape, heads, b, h);
    return mat(np, d, (i, j) => (i < pad ? 0 : get(hx, i - pad, j)));
  };
  const means = (x: Mat): Mat => mat(m, d, (s, j) => Array.from({ length: l }, (_, t) => get(x, s * l + t, j)).reduce((a, c) => a + c, 0) / l);
  const parts = [] as { a1: Mat; a2: Mat; a3: Mat; v: Mat }[];
  let maxRow = 0, maxCol = 0;
  for (let b = 0; b < bs; b++)
    for (let h = 0; h < heads; h++) {
      const Q = padded(q, b, h);
      const Qs = mat(np, d, (i, j) => get(Q, i, j) / Math.sqrt(d));
      const K = padded(k, b, h);
      const ql = means(Qs), kl = means(K);
      const a2 = softmaxRows(mul(ql, tr(kl)));
      for (let i = 0; i < m; i++) {
        let r = 0, c = 0;
        for (let j = 0; j < m; j++) (r += Math.abs(get(a2, i, j))), (c += Math.abs(get(a2, j, i)));
        maxRow = Math.max(maxRow, r);
        maxCol = Math.max(maxCol, c);
      }
      parts.push({ a1: softmaxRows(mul(Qs, tr(kl))), a2, a3: softmaxRows(mul(ql, tr(K))), v: padded(v, b, h) });
    }
  const cw = conv?.dataSync();
  const kernel = conv?.shape[1] ?? 0;
  return assemble(q.shape, heads, (b, h) => {
    const { a1, a2, a3, v: V } = parts[b * heads + h]!;
    let z = mat(m, m, (i, j) => get(a2, j, i) / (maxRow * maxCol));
    const eye = (c: number): Mat => mat(m, m, (i, j) => (i === j ? c : 0));
    const minus = (a: Mat, c: Mat): Mat => mat(a.rows, a.cols, (i, j) => get(a, i, j) - get(c, i, j));
    for (let t = 0; t < iters; t++) {
      const az = mul(a2, z);
      const inner2 = minus(eye(15), mul(az, minus(eye(7), az)));
      const next = mul(z, minus(eye(13), mul(az, inner2)));
      z = mat(m, m, (i, j) => 0.25 * get(next, i, j));
    }
    const out = mul(mul(a1, z), mul(a3, V));
    const p = kernel >> 1;
    return mat(n, d, (i, j) => {
      let s = get(out, i + pad, j);
      for (let r = 0; r < kernel; r++) {
        const t = i + pad + r - p;
        if (t >= 0 && t < np) s += cw![h * kernel + r]! * get(V, t, j);
      }
      return s;
    });
  });
}

function xnormRef(q: T3, k: T3, v: T3, heads: number, gamma: number[], eps: number): Float64Array {
  const norm = (a: Mat, g: number): Mat => {
    const out = mat(a.rows, a.cols, (i, j) => get(a, i, j));
    for (let i = 0; i < a.rows; i++) {
      let s = 0;
      for (let j = 0; j < a.cols; j++) s += get(a, i, j) ** 2;
      for (let j = 0; j < a.cols; j++) out.v[i * a.cols + j] = (g * get(a, i, j)) / Math.sqrt(s + eps * eps);
    }
    return out;
  };
  return assemble(q.shape, heads, (b, h) => {
    const kv = mul(tr(head(k.dataSync(), k.shape, heads, b, h)), head(v.dataSync(), v.shape, heads, b, h));
    return mul(norm(head(q.dataSync(), q.shape, heads, b, h), gamma[h]!), norm(kv, gamma[h]!));
  });
}

/** `f` returns one new tensor and leaks nothing, forward or backward. */
function expectNoLeak(f: () => tf.Tensor, grads: () => tf.Tensor[]): void {
  f().dispose(); // constants built on first use
  const before = tf.memory().numTensors;
  const out = f();
  expect(tf.memory().numTensors - before).to.equal(1);
  out.dispose();
  tf.dispose(grads());
  expect(tf.memory().numTensors).to.equal(before);
}

const qkv = (b: number, n: number, inner: number, seed: number, sd = 1): [T3, T3, T3] => [randn([b, n, inner], seed, sd) as T3, randn([b, n, inner], seed + 1, sd) as T3, randn([b, n, inner], seed + 2, sd) as T3];

describe('X-former attention functions (src/supernet/fn)', () => {
  before(async () => {
    await initBackend();
  });

  describe('orthogonalFeatures', () => {
    it('draws the same Ω for the same seed and another for another seed', () => {
      expect(Array.from(orthogonalFeatures(20, 8, new Rng(3)))).to.deep.equal(Array.from(orthogonalFeatures(20, 8, new Rng(3))));
      expect(maxDiff(orthogonalFeatures(20, 8, new Rng(3)), orthogonalFeatures(20, 8, new Rng(4)))).to.be.above(0.1);
    });
    it('makes the rows of each d-row block mutually orthogonal, the last block cut to m rows', () => {
      const m = 21, d = 8;
      const w = orthogonalFeatures(m, d, new Rng(5));
      expect(w.length).to.equal(m * d);
      const row = (i: number): number[] => Array.from(w.subarray(i * d, (i + 1) * d));
      const dot = (a: number[], b: number[]): number => a.reduce((s, x, j) => s + x * b[j]!, 0);
      for (let i = 0; i < m; i++)
        for (let j = i + 1; j < m; j++) {
          if (Math.floor(i / d) !== Math.floor(j / d)) continue;
          expect(Math.abs(dot(row(i), row(j))) / Math.sqrt(dot(row(i), row(i)) * dot(row(j), row(j)))).to.be.below(1e-5);
        }
    });
    it('scales rows to the norms of Gaussian rows: E‖ω‖² = d', () => {
      const m = 4000, d = 16;
      const w = orthogonalFeatures(m, d, new Rng(6));
      let s = 0;
      for (const x of w) s += x * x;
      expect(s / m).to.be.closeTo(d, 0.6); // the mean of m χ²_d draws: sd √(2d/m) ≈ 0.09
    });
    it('rejects a non-positive size with a one-line error', () => {
      expect(() => orthogonalFeatures(0, 4, new Rng(1))).to.throw(VitasError, /m and d must be positive integers/);
    });
  });

  describe('performerAttention', () => {
    it('equals the FAVOR+ formula with the same Ω (query and key stabilisers as the reference)', () => {
      const [b, n, heads, d, m] = [2, 7, 2, 4, 9];
      const [q, k, v] = qkv(b, n, heads * d, 10);
      const w = orthogonalFeatures(m, d, new Rng(11));
      const out = performerAttention(q, k, v, heads, tf.tensor2d(w, [m, d]));
      expect(out.shape).to.deep.equal([b, n, heads * d]);
      expect(maxDiff(out.dataSync(), performerRef(q, k, v, heads, w, m))).to.be.below(1e-5);
    });
    it('approaches softmax attention as the random features grow', () => {
      const [b, n, heads, d] = [1, 6, 1, 4];
      const [q, k, v] = qkv(b, n, heads * d, 12, 0.7);
      const exact = softmaxRef(q, k, v, heads);
      const err = (m: number): number => maxDiff(performerAttention(q, k, v, heads, tf.tensor2d(orthogonalFeatures(m, d, new Rng(13)), [m, d])).dataSync(), exact);
      expect(err(8192)).to.be.below(0.03);
      expect(err(8192)).to.be.below(err(4));
    });
    it('backward matches finite differences for q, k and v', () => {
      const [b, n, heads, d, m] = [2, 5, 2, 4, 7];
      const omega = tf.tensor2d(orthogonalFeatures(m, d, new Rng(14)), [m, d]);
      checkGradients((q, k, v) => performerAttention(q as T3, k as T3, v as T3, heads, omega), qkv(b, n, heads * d, 15, 0.5), 16);
    });
    it('leaks no tensor and rejects an Ω of the wrong width', () => {
      const [q, k, v] = qkv(1, 4, 8, 17);
      const omega = tf.tensor2d(orthogonalFeatures(5, 4, new Rng(1)), [5, 4]);
      expectNoLeak(() => performerAttention(q, k, v, 2, omega), () => tf.grads((a: tf.Tensor) => tf.sum(performerAttention(a as T3, k, v, 2, omega)))([q]));
      expect(() => performerAttention(q, k, v, 1, omega)).to.throw(VitasError, /omega must have shape \[5, 8\]/);
    });
  });

  describe('linformerAttention', () => {
    it('equals softmax(Q(EᵀK)ᵀ/√d)(FᵀV) per head, E and F shared by the heads', () => {
      const [b, n, heads, d, kk] = [2, 7, 2, 3, 4];
      const [q, k, v] = qkv(b, n, heads * d, 20);
      const e = randn([n, kk], 21, 0.5) as tf.Tensor2D, f = randn([n, kk], 22, 0.5) as tf.Tensor2D;
      expect(maxDiff(linformerAttention(q, k, v, heads, e, f).dataSync(), linformerRef(q, k, v, heads, e, f))).to.be.below(1e-5);
      expect(maxDiff(linformerAttention(q, k, v, heads, e, e).dataSync(), linformerRef(q, k, v, heads, e, e))).to.be.below(1e-5);
    });
    it('backward matches finite differences for q, k, v, E and F', () => {
      const [b, n, heads, d, kk] = [2, 5, 2, 3, 3];
      checkGradients((q, k, v, e, f) => linformerAttention(q as T3, k as T3, v as T3, heads, e as tf.Tensor2D, f as tf.Tensor2D), [...qkv(b, n, heads * d, 23), randn([n, kk], 24, 0.5), randn([n, kk], 25, 0.5)], 26);
    });
    it('leaks no tensor and rejects an E for another token count', () => {
      const [q, k, v] = qkv(1, 5, 4, 27);
      const e = randn([5, 3], 28) as tf.Tensor2D;
      expectNoLeak(() => linformerAttention(q, k, v, 2, e, e), () => tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(linformerAttention(a as T3, k, v, 2, w as tf.Tensor2D, w as tf.Tensor2D)))([q, e]));
      expect(() => linformerAttention(q, k, v, 2, randn([6, 3], 1) as tf.Tensor2D, e)).to.throw(VitasError, /e must have shape \[5, 3\]/);
    });
  });

  describe('nystromAttention', () => {
    it('equals softmax attention (up to the pseudo-inverse iteration) with as many landmarks as tokens', () => {
      const [b, n, heads, d] = [2, 6, 2, 4];
      const [q, k, v] = qkv(b, n, heads * d, 30, 1.5);
      const exact = softmaxRef(q, k, v, heads);
      expect(maxDiff(nystromAttention(q, k, v, heads, n, { iters: 20 }).dataSync(), exact)).to.be.below(1e-3);
      expect(maxDiff(nystromAttention(q, k, v, heads, n).dataSync(), exact)).to.be.below(0.1);
      // and so does vitas's own softmax attention
      expect(maxDiff(softmaxAttention(q, k, v, heads).dataSync(), exact)).to.be.below(1e-5);
    });
    it('follows the reference step by step: front padding to a multiple of the landmarks, segment means, pinv, stripped padding', () => {
      for (const [b, n, heads, d, m] of [[2, 7, 2, 3, 3], [1, 10, 1, 4, 4], [2, 5, 2, 2, 8], [1, 9, 2, 2, 3]] as const) {
        const [q, k, v] = qkv(b, n, heads * d, 31 + n);
        const out = nystromAttention(q, k, v, heads, m);
        expect(out.shape).to.deep.equal([b, n, heads * d]);
        expect(maxDiff(out.dataSync(), nystromRef(q, k, v, heads, m, 6)), `${[b, n, heads, d, m]}`).to.be.below(2e-4);
      }
    });
    it('adds the depthwise conv along the sequence on V (the reference residual), padding included', () => {
      const [b, n, heads, d, m, kernel] = [2, 7, 2, 3, 3, 5];
      const [q, k, v] = qkv(b, n, heads * d, 40);
      const conv = randn([heads, kernel], 41, 0.3) as tf.Tensor2D;
      expect(maxDiff(nystromAttention(q, k, v, heads, m, { conv }).dataSync(), nystromRef(q, k, v, heads, m, 6, conv))).to.be.below(2e-4);
      // a kernel longer than the padded sequence
      const long = randn([heads, 33], 42, 0.1) as tf.Tensor2D;
      expect(maxDiff(nystromAttention(q, k, v, heads, m, { conv: long }).dataSync(), nystromRef(q, k, v, heads, m, 6, long))).to.be.below(2e-4);
    });
    it('backward matches finite differences for q, k, v and the conv kernel, with padding', () => {
      const [b, n, heads, d, m] = [2, 5, 2, 2, 2];
      checkGradients((q, k, v, c) => nystromAttention(q as T3, k as T3, v as T3, heads, m, { conv: c as tf.Tensor2D }), [...qkv(b, n, heads * d, 43), randn([heads, 3], 44, 0.5)], 45);
    });
    it('leaks no tensor and rejects a conv kernel for another head count', () => {
      const [q, k, v] = qkv(1, 5, 4, 46);
      const conv = randn([2, 3], 47) as tf.Tensor2D;
      expectNoLeak(() => nystromAttention(q, k, v, 2, 2, { conv }), () => tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(nystromAttention(a as T3, k, v, 2, 2, { conv: c as tf.Tensor2D })))([q, conv]));
      expect(() => nystromAttention(q, k, v, 1, 2, { conv })).to.throw(VitasError, /conv must be \[heads=1, kernel\]/);
    });
  });

  describe('xnormAttention', () => {
    it('equals XNorm(Q)·XNorm(KᵀV) per head with γ per head', () => {
      const [b, n, heads, d] = [2, 6, 2, 3];
      const [q, k, v] = qkv(b, n, heads * d, 50);
      const gamma = [0.7, -1.3];
      const out = xnormAttention(q, k, v, heads, tf.tensor1d(gamma));
      expect(maxDiff(out.dataSync(), xnormRef(q, k, v, heads, gamma, 1e-6))).to.be.below(1e-5);
    });
    it('stays finite on an all-zero query (ε in the norm)', () => {
      const [, k, v] = qkv(1, 3, 4, 51);
      const q = tf.zeros([1, 3, 4]) as T3;
      const g = tf.grads((a: tf.Tensor) => tf.sum(xnormAttention(a as T3, k, v, 2, tf.tensor1d([1, 1]))))([q])[0]!;
      expect(Array.from(g.dataSync()).every(Number.isFinite)).to.equal(true);
    });
    it('backward matches finite differences for q, k, v and γ', () => {
      const [b, n, heads, d] = [2, 5, 2, 3];
      checkGradients((q, k, v, g) => xnormAttention(q as T3, k as T3, v as T3, heads, g as tf.Tensor1D), [...qkv(b, n, heads * d, 52), tf.tensor1d([0.8, 1.2])], 53);
    });
    it('leaks no tensor and rejects a γ for another head count', () => {
      const [q, k, v] = qkv(1, 4, 4, 54);
      const gamma = tf.tensor1d([1, 2]);
      expectNoLeak(() => xnormAttention(q, k, v, 2, gamma), () => tf.grads((a: tf.Tensor) => tf.sum(xnormAttention(a as T3, k, v, 2, gamma)))([q]));
      expect(() => xnormAttention(q, k, v, 4, gamma)).to.throw(VitasError, /gamma must have shape \[4\]/);
    });
  });
});
