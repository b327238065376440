/**
 * Test helpers for the operator functions (src/supernet/fn): seeded random tensors, a central
 * finite-difference gradient check, and plain-JS reference maths on Float64Arrays.
 */
import { expect } from 'chai';
import { tf } from '../src/backend/index.js';
import { Rng } from '../src/index.js';

export const count = (shape: number[]): number => shape.reduce((p, d) => p * d, 1);

/** Normal(0, sd) entries, seeded. */
export function randn(shape: number[], seed: number, sd = 1): tf.Tensor {
  const rng = new Rng(seed);
  return tf.tensor(Float32Array.from({ length: count(shape) }, () => sd * rng.normal()), shape);
}

/** Largest |a − b| over all entries. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/**
 * Checks the backward of f against central differences of L = Σ f(xs)·R, R fixed and random, in
 * float32 with step h: for every input, the derivative along a random direction and the partial
 * derivatives at a few entries, each to a relative tolerance `tol`.
 */
export function checkGradients(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], seed: number, h = 1e-2, tol = 1e-2): void {
  tf.tidy(() => {
    const probe = randn(f(...xs).shape, seed);
    const loss = (...ys: tf.Tensor[]): tf.Scalar => tf.sum(tf.mul(f(...ys), probe));
    const grads = tf.grads(loss)(xs);
    const at = (i: number, x: tf.Tensor): number => loss(...xs.map((y, j) => (j === i ? x : y))).dataSync()[0]!;
    xs.forEach((x, i) => {
      const g = grads[i]!.dataSync() as Float32Array;
      const xv = x.dataSync();
      const gmax = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(gmax, `input ${i}: gradient is zero everywhere`).to.be.above(0);
      // along a random direction
      const u = randn(x.shape, seed + 100 + i).dataSync();
      const along = (s: number): tf.Tensor => tf.tensor(Float32Array.from(xv, (v, j) => v + s * u[j]!), x.shape);
      const numeric = (at(i, along(h)) - at(i, along(-h))) / (2 * h);
      let analytic = 0;
      for (let j = 0; j < g.length; j++) analytic += g[j]! * u[j]!;
      expect(analytic, `input ${i}: directional derivative`).to.be.closeTo(numeric, tol * Math.max(Math.abs(analytic), Math.abs(numeric), 1e-3));
      // single entries, the largest gradient among them
      const picks = new Set([0, Math.floor(g.length / 3), Math.floor((2 * g.length) / 3), g.length - 1, g.indexOf(g.reduce((m, v) => (Math.abs(v) > Math.abs(m) ? v : m), 0))]);
      for (const j of picks) {
        const bump = (s: number): tf.Tensor => tf.tensor(Float32Array.from(xv, (v, k) => (k === j ? v + s : v)), x.shape);
        const fd = (at(i, bump(h)) - at(i, bump(-h))) / (2 * h);
        expect(g[j], `input ${i} entry ${j}`).to.be.closeTo(fd, tol * Math.max(Math.abs(g[j]!), 0.05 * gmax));
      }
    });
  });
}

/** A plain row-major matrix. */
export interface Mat {
  rows: number;
  cols: number;
  v: Float64Array;
}

export const mat = (rows: number, cols: number, f: (i: number, j: number) => number): Mat => {
  const v = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) v[i * cols + j] = f(i, j);
  return { rows, cols, v };
};
export const get = (a: Mat, i: number, j: number): number => a.v[i * a.cols + j]!;
export const mul = (a: Mat, b: Mat): Mat =>
  mat(a.rows, b.cols, (i, j) => {
    let s = 0;
    for (let k = 0; k < a.cols; k++) s += get(a, i, k) * get(b, k, j);
    return s;
  });
export const tr = (a: Mat): Mat => mat(a.cols, a.rows, (i, j) => get(a, j, i));
export const softmaxRows = (a: Mat): Mat => {
  const out = mat(a.rows, a.cols, (i, j) => get(a, i, j));
  for (let i = 0; i < a.rows; i++) {
    let mx = -Infinity, s = 0;
    for (let j = 0; j < a.cols; j++) mx = Math.max(mx, get(a, i, j));
    for (let j = 0; j < a.cols; j++) s += out.v[i * a.cols + j] = Math.exp(get(a, i, j) - mx);
    for (let j = 0; j < a.cols; j++) out.v[i * a.cols + j]! /= s;
  }
  return out;
};

/** Head h of item b of a [B, N, heads·d] array, as an N×d matrix. */
export function head(data: ArrayLike<number>, shape: number[], heads: number, b: number, h: number): Mat {
  const [, n, inner] = shape as [number, number, number];
  const d = inner / heads;
  return mat(n, d, (i, j) => data[(b * n + i) * inner + h * d + j]!);
}

/** Writes per-(b, h) N×d results back into the [B, N, heads·d] layout. */
export function assemble(shape: number[], heads: number, f: (b: number, h: number) => Mat): Float64Array {
  const [bs, n, inner] = shape as [number, number, number];
  const d = inner / heads;
  const out = new Float64Array(bs * n * inner);
  for (let b = 0; b < bs; b++)
    for (let h = 0; h < heads; h++) {
      const m = f(b, h);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[(b * n + i) * inner + h * d + j] = get(m, i, j);
    }
  return out;
}
