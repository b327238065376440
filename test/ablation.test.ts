import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, runAblation, kendallTau, arms, armsOf, loadAblation, loadCheckpoint, presetSpace, searchIdentityProbability, supernetKey, VitasError, type AblationResult } from '../src/index.js';
import { ROOT, tinySpace } from './helpers.js';

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

  describe('on a tiny synthetic setup', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitas-ablate-'));
    const cache = join(dir, 'standalone-cache');
    writeFileSync(join(dir, 'tiny-space.json'), JSON.stringify(tinySpace));
    const base = {
      name: 'tiny',
      space: join(dir, 'tiny-space.json'),
      data: { dataset: 'synthetic', validation: 16, limit: 64, size: 8, channels: 1, classes: 4 },
      budget: { max: '60K', min: '1K' },
      supernet: { epochs: 1, batch: 16, sampling: 'uniform' },
      search: { population: 4, generations: 2, parents: 2, mutations: 2, crossovers: 2 },
    };
    let first: AblationResult;
    let distillation: AblationResult | undefined;
    const logs: string[] = [];

    before(async () => {
      const def = { name: 'tiny-ablation', base, factors: { privateTokens: [true, false], strategy: ['evolution', 'random'] }, metrics: { kendall: { subnets: 4, epochs: 1 }, search: true } };
      first = await runAblation(def as never, { out: join(dir, 'out'), standaloneCache: cache, events: { onLog: (m) => void logs.push(m) } });
    });

    it('runs every arm and writes the table, CSV, JSON and plot', () => {
      const out = join(dir, 'out');
      expect(first.arms).to.have.length(4);
      for (const a of first.arms) {
        expect(a.kendall!.tau).to.be.within(-1, 1);
        expect(a.kendall!.inherited).to.have.length(4);
        expect(a.search!.macs).to.be.within(1000, 60000);
      }
      // the stand-alone accuracies are shared by the arms (they do not depend on the supernet)
      expect(first.arms[0]!.kendall!.standalone).to.deep.equal(first.arms[3]!.kendall!.standalone);
      const report = readFileSync(join(out, 'report.md'), 'utf8');
      for (const row of ['| true          | evolution', '| true          | random', '| false         | evolution', '| false         | random']) expect(report).to.include(row);
      expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n')).to.have.length(5);
      expect(existsSync(join(out, 'results.json')) && existsSync(join(out, 'kendall.svg'))).to.equal(true);
    });

    it('trains one supernet for arms that differ only in the search strategy', () => {
      // arms: (tokens on, evolution), (on, random), (off, evolution), (off, random)
      expect(existsSync(join(dir, 'out', 'arm-1', 'supernet.ckpt'))).to.equal(true);
      expect(existsSync(join(dir, 'out', 'arm-2', 'supernet.ckpt'))).to.equal(false);
      expect(existsSync(join(dir, 'out', 'arm-3', 'supernet.ckpt'))).to.equal(true);
      expect(existsSync(join(dir, 'out', 'arm-4', 'supernet.ckpt'))).to.equal(false);
      expect(logs).to.include('arm 4/4 (privateTokens=off, strategy=random): the supernet of arm 3 (the same space and recipe, p_id 0.333)');
      // the same supernet ranks the subnets alike
      expect(first.arms[1]!.kendall!.inherited).to.deep.equal(first.arms[0]!.kendall!.inherited);
    });

    it('reports each arm\'s τ with its bootstrap interval in report.md, results.csv and results.json', () => {
      const out = join(dir, 'out');
      for (const a of first.arms) {
        const { tau, lo, hi } = a.kendall!;
        expect(lo).to.be.at.most(hi);
        expect([lo, hi].every((v) => v >= -1 && v <= 1)).to.equal(true);
        expect(readFileSync(join(out, 'report.md'), 'utf8')).to.include(`${tau.toFixed(3)} [${lo.toFixed(3)}, ${hi.toFixed(3)}]`);
      }
      const [header, row] = readFileSync(join(out, 'results.csv'), 'utf8').split('\n');
      expect(header).to.include('Kendall τ,τ 95 % lo,τ 95 % hi');
      const k = first.arms[0]!.kendall!;
      expect(row).to.include([k.tau, k.lo, k.hi].map((v) => v.toFixed(4)).join(','));
      const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { arms: { kendall: { tau: number; lo: number; hi: number } }[] };
      expect(json.arms[0]!.kendall).to.include({ tau: k.tau, lo: k.lo, hi: k.hi });
    });

    it('ranks SNIP, DSS, #params and MACs against the same stand-alone accuracies, in a proxies table', () => {
      const ranking = first.ranking!;
      expect(ranking.proxies.map((p) => p.name)).to.deep.equal(['snip', 'dss', 'params', 'macs']);
      for (const p of ranking.proxies) {
        expect(p.scores).to.have.length(4);
        expect(p.tau).to.equal(kendallTau(p.scores, ranking.subnets.map((s) => s.standalone)));
        expect(p.lo).to.be.at.most(p.hi);
      }
      expect(ranking.proxies.find((p) => p.name === 'params')!.scores).to.deep.equal(ranking.subnets.map((s) => s.params));
      const report = readFileSync(join(dir, 'out', 'report.md'), 'utf8');
      expect(report).to.include('## Proxies');
      for (const p of ranking.proxies) expect(report).to.match(new RegExp(`\\| ${p.name} +\\| ${p.tau.toFixed(3).replace('.', '\\.')} +\\| \\[`));
      const json = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')) as { ranking: { proxies: { name: string; tau: number; lo: number; hi: number }[] } };
      expect(json.ranking.proxies.map((p) => p.name)).to.deep.equal(['snip', 'dss', 'params', 'macs']);
    });

    it('trains the stand-alone subnets once and keeps them in the cache, one file each', () => {
      expect(first.ranking!.standalone).to.include({ reused: 0, trained: 4, cache });
      expect(readdirSync(cache).filter((f) => f.endsWith('.json'))).to.have.length(4);
    });

    it('with kendall.seeds 2 ranks against the mean of two stand-alone seeds (the first from the cache) and reports seed 1 against seed 2', async () => {
      const def = { name: 'tiny-seeds', base, factors: { slicing: ['left'] }, metrics: { kendall: { subnets: 4, epochs: 1, seeds: 2 } } };
      const r = await runAblation(def as never, { out: join(dir, 'out-seeds'), standaloneCache: cache });
      const ranking = r.ranking!;
      expect(ranking.standalone).to.include({ reused: 4, trained: 4, seeds: 2 });
      for (const [i, s] of ranking.subnets.entries()) {
        expect(s.bySeed![0]).to.equal(first.ranking!.subnets[i]!.standalone); // seed 1 is the earlier run's
        expect(s.standalone).to.be.closeTo((s.bySeed![0]! + s.bySeed![1]!) / 2, 1e-12);
      }
      expect(ranking.repeatability!.tau).to.equal(kendallTau(ranking.subnets.map((s) => s.bySeed![0]!), ranking.subnets.map((s) => s.bySeed![1]!)));
      expect(r.arms[0]!.kendall!.tau).to.equal(kendallTau(r.arms[0]!.kendall!.inherited, ranking.subnets.map((s) => s.standalone)));
      expect(readFileSync(join(dir, 'out-seeds', 'report.md'), 'utf8')).to.include(`Stand-alone seed 1 against seed 2: Kendall τ ${ranking.repeatability!.tau.toFixed(3)}`);
      // and the supernet's own side: its ranking on the even against the odd validation images
      const arm = r.arms[0]!;
      expect(arm.kendall!.repeatability.tau).to.be.within(arm.kendall!.repeatability.lo, arm.kendall!.repeatability.hi);
      expect(readFileSync(join(dir, 'out-seeds', 'report.md'), 'utf8')).to.include(`validation images, Kendall τ per arm — how far each supernet's own ranking repeats on other images: ${arm.name} ${arm.kendall!.repeatability.tau.toFixed(3)}`);
    });

    it('a second ablation over the same base draws the same subnets and reuses their stand-alone accuracies without training', async () => {
      const second: string[] = [];
      const def = { name: 'tiny-other', base, factors: { slicing: ['left'] }, metrics: { kendall: { subnets: 4, epochs: 1 } } };
      const r = await runAblation(def as never, { out: join(dir, 'out2'), standaloneCache: cache, events: { onLog: (m) => void second.push(m) } });
      expect(r.ranking!.standalone).to.include({ reused: 4, trained: 0 });
      expect(r.ranking!.subnets).to.deep.equal(first.ranking!.subnets);
      expect(second.filter((m) => m.startsWith('stand-alone '))).to.deep.equal([`stand-alone accuracies: 4 of 4 from ${cache}, training 0 for 1 epoch(s)`]);
      expect(logs.filter((m) => /^stand-alone \d/.test(m))).to.have.length(4);
    });

    it('trains both arms of the distillation factor with the sandwich rule, and only the on arm distilled', async () => {
      const def = { name: 'tiny-distillation', base, factors: { distillation: [true, false] }, metrics: { kendall: { subnets: 4, epochs: 1 } } };
      const r = await runAblation(def as never, { out: join(dir, 'out3'), standaloneCache: cache });
      distillation = r;
      expect(r.arms.map((a) => a.name)).to.deep.equal(['distillation=on', 'distillation=off']);
      const recipes = [1, 2].map((i) => loadCheckpoint<{ recipe: { sandwich: boolean; distill: boolean } }>(join(dir, 'out3', `arm-${i}`, 'supernet.ckpt')).meta.recipe);
      expect(recipes.map((x) => [x.sandwich, x.distill])).to.deep.equal([[true, true], [true, false]]);
      expect(r.ranking!.standalone).to.include({ reused: 4, trained: 0 });
    });

    it('runs arms listed one by one, the empty one as the base, with – for the factors an arm leaves at the base\'s', async () => {
      const def = { name: 'tiny-listed', base, arms: [{}, { distillation: false, privateTokens: false }], metrics: { kendall: { subnets: 4, epochs: 1 } } };
      const r = await runAblation(def as never, { out: join(dir, 'out-listed'), standaloneCache: cache });
      expect(r.arms.map((a) => a.name)).to.deep.equal(['base', 'distillation=off, privateTokens=off']);
      expect(r.arms.map((a) => a.supernetOf)).to.deep.equal([undefined, undefined]); // two supernets: the recipes differ
      const recipes = [1, 2].map((i) => loadCheckpoint<{ recipe: { sandwich: boolean; distill: boolean } }>(join(dir, 'out-listed', `arm-${i}`, 'supernet.ckpt')).meta.recipe);
      expect(recipes.map((x) => x.sandwich)).to.deep.equal([false, true]);
      const report = readFileSync(join(dir, 'out-listed', 'report.md'), 'utf8');
      expect(report).to.match(/\| distillation +\| privateTokens +\| Kendall τ/);
      expect(report).to.match(/\| – +\| – +\| -?\d\.\d{3} \[/);
      expect(report).to.match(/\| false +\| false +\| -?\d\.\d{3} \[/);
    });

    it('reports each later arm\'s τ minus the first arm\'s with a paired interval, and the p_id each supernet sampled with', () => {
      const [on, off] = distillation!.arms;
      expect(on!.kendall!.vsFirst).to.equal(undefined);
      const d = off!.kendall!.vsFirst!;
      expect(d.tau).to.be.closeTo(off!.kendall!.tau - on!.kendall!.tau, 1e-12);
      expect(d.lo).to.be.at.most(d.tau);
      expect(d.hi).to.be.at.least(d.tau);
      expect(distillation!.arms.map((a) => a.pId)).to.deep.equal([1 / 3, 1 / 3]); // uniform sampling, two head choices
      const report = readFileSync(join(dir, 'out3', 'report.md'), 'utf8');
      expect(report).to.include('Δτ vs distillation=on [95 %, paired]');
      expect(report).to.match(/\| p_id +\|/);
    });
  });

  describe('supernets shared between arms', () => {
    // fmnist-a has three head choices, so uniform sampling's p_id is 1/4, a value identity search
    // (steps of 0.01 from 0.5) can land on; in the ablations' [5.4M, 6M] window it does
    const space = presetSpace('fmnist-a');

    it('gives identity search the key of uniform sampling when it lands on uniform\'s p_id 1/(heads + 1)', () => {
      const w = { min: 5.4e6, max: 6e6, convention: 'macs' as const };
      expect(searchIdentityProbability(space, w).pId).to.equal(0.25);
      expect(supernetKey(space, { sampling: 'identity-search' }, w)).to.equal(supernetKey(space, { sampling: 'uniform' }, w));
    });

    it('gives them different keys when the search lands elsewhere, and when another part of the recipe differs', () => {
      const w = { min: 4.2e6, max: 4.3e6, convention: 'macs' as const };
      expect(searchIdentityProbability(space, w).pId).to.not.equal(0.25);
      expect(supernetKey(space, { sampling: 'identity-search' }, w)).to.not.equal(supernetKey(space, { sampling: 'uniform' }, w));
      expect(supernetKey(space, { sampling: 'uniform', distill: true, sandwich: true }, w)).to.not.equal(supernetKey(space, { sampling: 'uniform', distill: false, sandwich: true }, w));
    });

    it('gives a recipe that states a default the key of one that leaves it out', () => {
      const w = { min: 5.4e6, max: 6e6, convention: 'macs' as const };
      expect(supernetKey(space, { privateTokens: true, augment: { crop: 2, flip: true } }, w)).to.equal(supernetKey(space, {}, w));
      expect(supernetKey(space, { privateTokens: false }, w)).to.not.equal(supernetKey(space, {}, w));
      expect(supernetKey(space, { privateGroups: false }, w)).to.equal(supernetKey(space, {}, w));
      expect(supernetKey(space, { privateGroups: true }, w)).to.not.equal(supernetKey(space, {}, w));
    });
  });

  it('loads every ablation definition shipped in searches/ablations/, with its base', () => {
    const dir = join(ROOT, 'searches', 'ablations');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('base-'));
    expect(files).to.include.members(['identity-search.json', 'identity-search-4.5m.json', 'recipe.json', 'distillation.json']);
    for (const f of files) expect(loadAblation(join(dir, f)).def.name, f).to.equal(f.replace(/\.json$/, ''));
  });

  it('takes factors or a list of arms, one of the two', () => {
    const metrics = { kendall: { subnets: 4, epochs: 1 } };
    expect(armsOf({ arms: [{}, { slicing: 'two-sided' }] })).to.deep.equal([{}, { slicing: 'two-sided' }]);
    expect(armsOf({ factors: { slicing: ['left', 'two-sided'] } })).to.deep.equal([{ slicing: 'left' }, { slicing: 'two-sided' }]);
    expect(() => loadAblation({ name: 'x', base: 'nope.json', metrics } as never)).to.throw(VitasError, /ablation: give factors \(crossed into arms\) or arms \(listed one by one\), one of the two/);
    expect(() => loadAblation({ name: 'x', base: 'nope.json', factors: { slicing: ['left'] }, arms: [{}], metrics } as never)).to.throw(VitasError, /one of the two/);
    expect(() => loadAblation({ name: 'x', base: 'nope.json', arms: [{ slicing: 'diagonal' }], metrics } as never)).to.throw(VitasError, /arms\/0\/slicing|arms\.0\.slicing|arms\[0\]\.slicing/);
  });

  it('rejects an unknown factor with its path', () => {
    expect(() => loadAblation({ name: 'x', base: 'nope.json', factors: { dropout: [1] }, metrics: { search: true } } as never)).to.throw(VitasError, /ablation: factors\.dropout: unknown field; allowed fields: privateTokens, privateAttention/);
  });
});
