import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, runAblation, kendallTau, arms, loadAblation, VitasError } from '../src/index.js';
import { tinySpace } from './helpers.js';

describe('ablations', () => {
  before(async () => {
    await initBackend();
  });

  it('computes Kendall τ-b', () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 30, 40])).to.equal(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).to.equal(-1);
    expect(kendallTau([1, 2, 3], [1, 3, 2])).to.be.closeTo(1 / 3, 1e-12);
    expect(kendallTau([1, 1, 2], [1, 2, 3])).to.be.closeTo(2 / Math.sqrt(2 * 3), 1e-12);
  });

  it('crosses the factors into arms', () => {
    expect(arms({ privateTokens: [true, false], slicing: ['left', 'two-sided'] })).to.have.length(4);
  });

  it('runs every arm on a tiny synthetic setup and writes the table, CSV, JSON and plot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitas-ablate-'));
    writeFileSync(join(dir, 'tiny-space.json'), JSON.stringify(tinySpace));
    const base = {
      name: 'tiny',
      space: join(dir, 'tiny-space.json'),
      data: { dataset: 'synthetic', validation: 16, limit: 64, size: 8, channels: 1, classes: 4 },
      budget: { max: '60K', min: '1K' },
      supernet: { epochs: 1, batch: 16, sampling: 'uniform' },
      search: { population: 4, generations: 2, parents: 2, mutations: 2, crossovers: 2 },
    };
    const def = { name: 'tiny-ablation', base, factors: { privateTokens: [true, false], strategy: ['evolution', 'random'] }, metrics: { kendall: { subnets: 4, epochs: 1 }, search: true } };
    const out = join(dir, 'out');
    const r = await runAblation(def as never, { out });
    expect(r.arms).to.have.length(4);
    for (const a of r.arms) {
      expect(a.kendall!.tau).to.be.within(-1, 1);
      expect(a.kendall!.inherited).to.have.length(4);
      expect(a.search!.macs).to.be.within(1000, 60000);
    }
    // the stand-alone accuracies are shared by the arms (they do not depend on the supernet)
    expect(r.arms[0]!.kendall!.standalone).to.deep.equal(r.arms[3]!.kendall!.standalone);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    for (const row of ['| true          | evolution', '| true          | random', '| false         | evolution', '| false         | random']) expect(report).to.include(row);
    expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n')).to.have.length(5);
    expect(existsSync(join(out, 'results.json')) && existsSync(join(out, 'kendall.svg'))).to.equal(true);
  });

  it('rejects an unknown factor with its path', () => {
    expect(() => loadAblation({ name: 'x', base: 'nope.json', factors: { dropout: [1] }, metrics: { search: true } } as never)).to.throw(VitasError, /ablation: factors\.dropout: unknown field; allowed fields: privateTokens, privateAttention/);
  });
});
