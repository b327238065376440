import { expect } from 'chai';
import { parseBudget, formatMacs, formatScore, VitasError } from '../src/index.js';

describe('budgets', () => {
  it('parses K/M/G suffixes in either case, exponents and plain numbers', () => {
    expect(parseBudget('1.3G')).to.equal(1_300_000_000);
    expect(parseBudget('1.3g')).to.equal(1_300_000_000);
    expect(parseBudget('850M')).to.equal(850_000_000);
    expect(parseBudget('12e6')).to.equal(12_000_000);
    expect(parseBudget('500k')).to.equal(500_000);
    expect(parseBudget('1253683200')).to.equal(1_253_683_200);
    expect(parseBudget(' 2.5 M ')).to.equal(2_500_000);
  });
  it('names the flag and the accepted forms on bad input', () => {
    for (const bad of ['', 'abc', '1.3X', '-5M', '0', '1..3G']) {
      expect(() => parseBudget(bad, '--min')).to.throw(VitasError, /^--min: .*use a number with an optional K\/M\/G suffix, e\.g\. 1\.3G, 850M, 12e6$/);
    }
  });
  it('formats MACs for people', () => {
    expect(formatMacs(1_253_683_200)).to.equal('1.25G');
    expect(formatMacs(12_000_000)).to.equal('12M');
  });
  it('prints a count score (params, MACs) with thousands separators and any other score to 4 decimals', () => {
    expect(formatScore(6_829_720)).to.equal('6,829,720');
    expect(formatScore(1278.40661)).to.equal('1278.4066');
  });
});
