/**
 * The nuclear norm ‖W‖_* = Σ σᵢ without a general SVD: the σᵢ² are the eigenvalues of the smaller
 * Gram matrix (WᵀW or WWᵀ), so ‖W‖_* = trace √(Gram) = Σ √λᵢ. The eigenvalues come from a
 * Householder reduction to tridiagonal form and the implicit QL iteration (eigenvalues only, no
 * vectors: ~4/3·n³ flops, faster in JavaScript than Jacobi sweeps or a Newton–Schulz square
 * root). Pure and in float64; DSS (TF-TAS) takes it of attention weights and their gradients.
 */

/** The smaller Gram matrix of a row-major rows × cols matrix: WᵀW (cols ≤ rows) or WWᵀ, row-major n × n. */
export function gramOf(w: ArrayLike<number>, rows: number, cols: number): { gram: Float64Array; n: number } {
  if (w.length !== rows * cols) throw new Error(`gramOf: ${w.length} values for a ${rows} × ${cols} matrix`);
  const byCols = cols <= rows;
  const n = byCols ? cols : rows;
  const m = byCols ? rows : cols;
  // the n vectors of length m whose dot products make the Gram matrix, laid out contiguously
  const v = new Float64Array(n * m);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      if (byCols) v[c * m + r] = w[r * cols + c]!;
      else v[r * m + c] = w[r * cols + c]!;
    }
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0, a = i * m, b = j * m; k < m; k++) s += v[a + k]! * v[b + k]!;
      gram[i * n + j] = s;
      gram[j * n + i] = s;
    }
  return { gram, n };
}

/** Eigenvalues (unsorted) of a symmetric n × n matrix, row-major; only its lower triangle is read. */
export function symmetricEigenvalues(matrix: ArrayLike<number>, n: number): Float64Array {
  if (matrix.length !== n * n) throw new Error(`symmetricEigenvalues: ${matrix.length} values for a ${n} × ${n} matrix`);
  const a = Float64Array.from(matrix);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalise(a, n, d, e);
  tridiagonalEigenvalues(d, e, n);
  return d;
}

/** Householder reduction of symmetric `a` (overwritten) to tridiagonal form: diagonal d, sub-diagonal e (e[i] couples i − 1 and i). */
function tridiagonalise(a: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    const ri = i * n;
    let h = 0;
    if (l > 0) {
      let scale = 0;
      for (let k = 0; k <= l; k++) scale += Math.abs(a[ri + k]!);
      if (scale === 0) e[i] = a[ri + l]!;
      else {
        for (let k = 0; k <= l; k++) {
          a[ri + k]! /= scale;
          h += a[ri + k]! * a[ri + k]!;
        }
        let f = a[ri + l]!;
        let g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
        e[i] = scale * g;
        h -= f * g;
        a[ri + l] = f - g;
        f = 0;
        for (let j = 0; j <= l; j++) {
          g = 0;
          for (let k = 0; k <= j; k++) g += a[j * n + k]! * a[ri + k]!;
          for (let k = j + 1; k <= l; k++) g += a[k * n + j]! * a[ri + k]!;
          e[j] = g / h;
          f += e[j]! * a[ri + j]!;
        }
        const hh = f / (h + h);
        for (let j = 0; j <= l; j++) {
          f = a[ri + j]!;
          g = e[j]! - hh * f;
          e[j] = g;
          for (let k = 0; k <= j; k++) a[j * n + k]! -= f * e[k]! + g * a[ri + k]!;
        }
      }
    } else e[i] = a[ri + l]!;
    d[i] = h;
  }
  e[0] = 0;
  for (let i = 0; i < n; i++) d[i] = a[i * n + i]!;
}

/** Implicit QL with Wilkinson shifts on a tridiagonal matrix: d becomes its eigenvalues (e is destroyed). */
function tridiagonalEigenvalues(d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  if (n > 0) e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= Number.EPSILON * dd) break;
      }
      if (m === l) break;
      if (iter++ === 100) throw new Error('symmetricEigenvalues: the QL iteration did not converge');
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1, c = 1, p = 0;
      let i: number;
      for (i = m - 1; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // underflow: the matrix splits here; restart on the smaller block
          d[i + 1]! -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (r === 0 && i >= l) continue;
      d[l]! -= p;
      e[l] = g;
      e[m] = 0;
    } while (m !== l);
  }
}

/** trace √G of a symmetric positive semi-definite G: Σ √λ, eigenvalues below 0 (rounding) counted as 0. */
export function traceSqrtPsd(gram: ArrayLike<number>, n: number): number {
  let s = 0;
  for (const l of symmetricEigenvalues(gram, n)) if (l > 0) s += Math.sqrt(l);
  return s;
}

/** ‖W‖_* of a row-major rows × cols matrix: the sum of its singular values. */
export function nuclearNorm(w: ArrayLike<number>, rows: number, cols: number): number {
  const { gram, n } = gramOf(w, rows, cols);
  return traceSqrtPsd(gram, n);
}
