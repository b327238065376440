import { expect } from 'chai';
import { kendallTau, kendallTauDifference, kendallTauInterval, pooledTauDifference } from '../src/index.js';

/** 20 subnets whose two scores agree in trend, with noise: τ well inside (0, 1). */
const x = Array.from({ length: 20 }, (_, i) => i);
const y = x.map((v) => v + 6 * Math.sin(3.7 * v));

describe('kendall', () => {
  it('gives τ = 1 with interval [1, 1] for concordant ranks', () => {
    expect(kendallTauInterval([1, 2, 3, 4, 5], [10, 20, 30, 40, 50])).to.deep.equal({ tau: 1, lo: 1, hi: 1 });
  });

  it('gives τ = −1 with interval [−1, −1] for reversed ranks', () => {
    expect(kendallTauInterval([1, 2, 3, 4], [4, 3, 2, 1])).to.deep.equal({ tau: -1, lo: -1, hi: -1 });
  });

  it('gives τ-b of a small example with ties as scipy.stats.kendalltau does (−0.4714)', () => {
    expect(kendallTau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])).to.be.closeTo(-0.4714045207910316, 1e-12);
    expect(kendallTauInterval([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]).tau).to.be.closeTo(-0.4714045207910316, 1e-12);
  });

  it('gives an interval that contains τ and lies in [−1, 1]', () => {
    const r = kendallTauInterval(x, y);
    expect(r.tau).to.equal(kendallTau(x, y));
    expect(r.tau).to.be.within(0.2, 0.9);
    expect(r.lo).to.be.at.least(-1);
    expect(r.hi).to.be.at.most(1);
    expect(r.lo).to.be.below(r.tau);
    expect(r.hi).to.be.above(r.tau);
  });

  it('gives the same interval for the same seed and another for another seed', () => {
    expect(kendallTauInterval(x, y, { seed: 7 })).to.deep.equal(kendallTauInterval(x, y, { seed: 7 }));
    expect(kendallTauInterval(x, y, { seed: 7 })).to.not.deep.equal(kendallTauInterval(x, y, { seed: 8 }));
  });

  it('widens the interval with the confidence level', () => {
    const a = kendallTauInterval(x, y, { level: 0.5 });
    const b = kendallTauInterval(x, y, { level: 0.99 });
    expect(b.lo).to.be.below(a.lo);
    expect(b.hi).to.be.above(a.hi);
  });

  it('gives τ = 0 with interval [0, 0] when one ranking is constant', () => {
    expect(kendallTauInterval([1, 2, 3], [5, 5, 5])).to.deep.equal({ tau: 0, lo: 0, hi: 0 });
  });

  describe('paired difference of two rankings against one truth', () => {
    // two rankings of the same 20 items that share most of their error: z swaps the values of the
    // items y ranks 4th and 5th, and 12th and 13th (two discordant pairs more or less)
    const byRank = x.slice().sort((p, q) => y[p]! - y[q]!);
    const z = [...y];
    for (const r of [3, 11]) [z[byRank[r]!], z[byRank[r + 1]!]] = [y[byRank[r + 1]!]!, y[byRank[r]!]!];

    it('gives Δτ = τ(b, truth) − τ(a, truth)', () => {
      expect(kendallTauDifference(y, z, x).tau).to.be.closeTo(kendallTau(z, x) - kendallTau(y, x), 1e-12);
    });

    it('gives Δτ 0 with interval [0, 0] for the same ranking twice', () => {
      expect(kendallTauDifference(y, [...y], x)).to.deep.equal({ tau: 0, lo: 0, hi: 0 });
    });

    it('gives an interval narrower than either ranking\'s own when they share the truth\'s noise', () => {
      const d = kendallTauDifference(y, z, x);
      const own = [kendallTauInterval(y, x), kendallTauInterval(z, x)].map((r) => r.hi - r.lo);
      expect(d.lo).to.be.at.most(d.tau);
      expect(d.hi).to.be.at.least(d.tau);
      expect(d.hi - d.lo).to.be.below(Math.min(...own) / 2);
    });

    it('refuses lists of different lengths', () => {
      expect(() => kendallTauDifference([1, 2], [1, 2], [1])).to.throw(/lengths differ/);
    });
  });

  describe('pooled over independent draws', () => {
    const z = y.map((v, i) => v + (i % 3 === 0 ? 4 : 0)); // a ranking further from the truth than y

    it('averages the per-draw τ and Δτ, and gives one draw exactly the paired difference', () => {
      const one = pooledTauDifference([{ a: z, b: y, truth: x }]);
      expect(one.delta.tau).to.be.closeTo(kendallTau(y, x) - kendallTau(z, x), 1e-12);
      const other = x.map((v) => v + 8 * Math.cos(2.3 * v));
      const two = pooledTauDifference([{ a: z, b: y, truth: x }, { a: other, b: x, truth: x }]);
      expect(two.a.tau).to.be.closeTo((kendallTau(z, x) + kendallTau(other, x)) / 2, 1e-12);
      expect(two.b.tau).to.be.closeTo((kendallTau(y, x) + 1) / 2, 1e-12);
      expect(two.delta.tau).to.be.closeTo(two.b.tau - two.a.tau, 1e-12);
    });

    it('narrows the interval as draws of the same comparison are added', () => {
      const one = pooledTauDifference([{ a: z, b: y, truth: x }]);
      const four = pooledTauDifference(Array.from({ length: 4 }, () => ({ a: z, b: y, truth: x })));
      expect(four.delta.hi - four.delta.lo).to.be.below(0.75 * (one.delta.hi - one.delta.lo));
      expect(four.delta.lo).to.be.at.most(four.delta.tau);
      expect(four.delta.hi).to.be.at.least(four.delta.tau);
    });
  });

  it('refuses lists of different lengths and a level outside (0, 1)', () => {
    expect(() => kendallTauInterval([1, 2], [1])).to.throw(/lengths differ/);
    expect(() => kendallTauInterval([1, 2], [1, 2], { level: 1 })).to.throw(/level must lie in \(0, 1\)/);
  });
});
