import { expect } from 'chai';
import { gramOf, nuclearNorm, symmetricEigenvalues, traceSqrtPsd } from '../src/evaluators/nuclear-norm.js';
import { Rng } from '../src/space/rng.js';

/** A random n × n rotation as a product of Givens rotations (row-major). */
function rotation(n: number, rng: Rng): number[][] {
  const q: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let t = 0; t < 4 * n * n; t++) {
    const i = rng.int(n), j = rng.int(n);
    if (i === j) continue;
    const th = 2 * Math.PI * rng.next();
    const c = Math.cos(th), s = Math.sin(th);
    for (const row of q) {
      const a = row[i]!, b = row[j]!;
      row[i] = c * a - s * b;
      row[j] = s * a + c * b;
    }
  }
  return q;
}

/** U·diag(s)·Vᵀ, rows × cols, row-major: its singular values are exactly s. */
function withSingularValues(rows: number, cols: number, s: number[], seed: number): Float64Array {
  const rng = new Rng(seed);
  const u = rotation(rows, rng), v = rotation(cols, rng);
  const w = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      let x = 0;
      for (let k = 0; k < s.length; k++) x += u[r]![k]! * s[k]! * v[c]![k]!;
      w[r * cols + c] = x;
    }
  return w;
}

const sorted = (a: Float64Array): number[] => [...a].sort((x, y) => x - y);

describe('nuclear norm', () => {
  it('gives the eigenvalues of small symmetric matrices', () => {
    expect(sorted(symmetricEigenvalues([2, 1, 1, 2], 2))).to.satisfy((l: number[]) => Math.abs(l[0]! - 1) < 1e-12 && Math.abs(l[1]! - 3) < 1e-12);
    expect(sorted(symmetricEigenvalues([5, 0, 0, 0, -1, 0, 0, 0, 2], 3))).to.deep.equal([-1, 2, 5]);
    expect([...symmetricEigenvalues([7], 1)]).to.deep.equal([7]);
  });

  it('gives Σσ of U·diag(s)·Vᵀ for a tall, a wide and a square matrix of known singular values', () => {
    const s = [3, 2, 0.5, 0.25];
    for (const [rows, cols] of [[9, 4], [4, 7], [4, 4]] as const) {
      const w = withSingularValues(rows, cols, s, rows * 10 + cols);
      expect(nuclearNorm(w, rows, cols), `${rows} × ${cols}`).to.be.closeTo(5.75, 1e-9);
    }
  });

  it('gives the singular values squared as the Gram matrix\'s eigenvalues', () => {
    const s = [4, 1.5, 1, 0.1, 0.01];
    const { gram, n } = gramOf(withSingularValues(12, 5, s, 3), 12, 5);
    expect(n).to.equal(5);
    sorted(symmetricEigenvalues(gram, n)).forEach((l, i) => expect(l).to.be.closeTo([...s].reverse()[i]! ** 2, 1e-9));
  });

  it('counts a rank-deficient matrix\'s zero singular values as zero', () => {
    const w = withSingularValues(30, 20, [2, 1], 5);
    expect(nuclearNorm(w, 30, 20)).to.be.closeTo(3, 1e-6);
    expect(traceSqrtPsd(new Float64Array(9), 3)).to.equal(0);
  });

  it('agrees with the Frobenius norm on a rank-one matrix (‖W‖_* = ‖W‖_F)', () => {
    const a = [1, -2, 3], b = [0.5, 4];
    const w = a.flatMap((x) => b.map((y) => x * y));
    expect(nuclearNorm(w, 3, 2)).to.be.closeTo(Math.hypot(...w), 1e-12);
  });

  it('refuses a value count that does not match the shape', () => {
    expect(() => nuclearNorm([1, 2, 3], 2, 2)).to.throw(/3 values for a 2 × 2 matrix/);
  });
});
