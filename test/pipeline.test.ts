import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { costOf, kendallTau, loadCheckpoint, validateSpec } from '../src/index.js';
import { fixture, ROOT } from './helpers.js';

/** One CLI call on the fixture; a call that hangs past 90 s fails the test instead of the suite. */
function vitas(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), ...args], { encoding: 'utf8', timeout: 90_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// A space small enough for seconds of training on 28×28 images, with the recipe of searches/fashion-mnist.json.
const space = {
  name: 'pipeline', input: [28, 28, 1], classes: 10, patch: [7], stem: ['linear'], pos: ['learned'], readout: ['cls'],
  embed: [8, 16], blocks: 2, depth: { min: 1, max: 2 }, identity: 'anywhere', attention: ['softmax'], heads: [1, 2],
  qkv: [12, 24], mlp: [8, 16], recursion: [1], groups: [1],
};
const window = { max: '50K', min: '25K' };

describe('the pipeline end to end on the fixture (CLI)', function () {
  this.timeout(600_000);
  const dir = mkdtempSync(join(tmpdir(), 'vitas-pipeline-'));
  writeFileSync(join(dir, 'space.json'), JSON.stringify(space));
  const def = {
    name: 'pipeline',
    space: join(dir, 'space.json'),
    data: { dataset: 'fashion-mnist', dir: fixture('fashion-mnist-mini'), validation: 100, limit: 300 },
    budget: window,
    supernet: { epochs: 1, batch: 50, sandwich: true, distill: true, sampling: 'identity-search', seed: 1 },
    search: { population: 4, generations: 2, parents: 2, mutations: 2, crossovers: 2, valImages: 50, seed: 1 },
    retrain: { epochs: 1, batch: 50, seeds: [1] },
  };
  writeFileSync(join(dir, 'def.json'), JSON.stringify(def));
  const bestOf = (run: string): { macs: number; evaluator: string } => {
    const spec = JSON.parse(readFileSync(join(dir, run, 'best-arch.json'), 'utf8')) as { meta: { macs: number; evaluator: string } };
    validateSpec(spec, run);
    return spec.meta;
  };

  it('vitas search --config trains the supernet (sandwich + in-place distillation) first, then searches it by inherited accuracy', () => {
    const r = vitas('search', '--config', join(dir, 'def.json'), '--out', join(dir, 'search'));
    expect(r.code, r.err).to.equal(0);
    const meta = bestOf('search');
    expect(meta.evaluator).to.equal('supernet');
    expect(meta.macs).to.be.within(25_000, 50_000);
    // the supernet it trained first is in the run folder, with the definition's recipe
    const ck = loadCheckpoint<{ recipe: { sandwich: boolean; distill: boolean } }>(join(dir, 'search', 'supernet', 'supernet.ckpt'));
    expect(ck.meta.recipe).to.include({ sandwich: true, distill: true });
  });

  it('vitas supernet train, then vitas search --supernet on it', () => {
    const t = vitas('supernet', 'train', '--config', join(dir, 'def.json'), '--out', join(dir, 'supernet'), '--val-images', '50');
    expect(t.code, t.err).to.equal(0);
    expect(t.out).to.match(/\| largest +\|/);
    const s = vitas('search', '--config', join(dir, 'def.json'), '--supernet', join(dir, 'supernet'), '--strategy', 'random', '--out', join(dir, 'random'));
    expect(s.code, s.err).to.equal(0);
    expect(bestOf('random').evaluator).to.equal('supernet');
  });

  it('vitas supernet eval scores the reference subnets as training did at its end, and a searched spec as its search scored it', () => {
    const t = vitas('supernet', 'eval', '--config', join(dir, 'def.json'), '--supernet', join(dir, 'supernet'), '--json');
    expect(t.code, t.err).to.equal(0);
    const rows = JSON.parse(t.out) as { name: string; macs: number; valAccuracy: number }[];
    // supernet.json: what \`vitas supernet train\` measured after its last epoch (all validation images, BatchNorm recalibrated)
    const trained = (JSON.parse(readFileSync(join(dir, 'supernet', 'supernet.json'), 'utf8')) as { scores: { name: string; macs: number; valAccuracy: number }[] }).scores;
    expect(rows.map((r) => r.name)).to.deep.equal(['smallest', 'median', 'largest']);
    expect(rows).to.deep.equal(trained.map(({ name, macs, valAccuracy }) => ({ name, macs, valAccuracy })));
    // --spec with --val-images: the search's best spec on the search's 50 images scores what the search recorded
    const best = join(dir, 'random', 'best-arch.json');
    const e = vitas('supernet', 'eval', '--config', join(dir, 'def.json'), '--supernet', join(dir, 'supernet'), '--spec', best, '--val-images', '50', '--json');
    expect(e.code, e.err).to.equal(0);
    const meta = (JSON.parse(readFileSync(best, 'utf8')) as { meta: { macs: number; score: number } }).meta;
    expect(JSON.parse(e.out)).to.deep.equal([{ name: best, macs: meta.macs, valAccuracy: meta.score }]);
  });

  it('vitas supernet rank measures the trained supernet\'s Kendall τ against the mean of two stand-alone seeds, the seeds\' own τ, and a rerun reuses the stand-alone accuracies', () => {
    const args = ['supernet', 'rank', '--config', join(dir, 'def.json'), '--supernet', join(dir, 'supernet'), '--subnets', '4', '--epochs', '4', '--seeds', '2', '--standalone-cache', join(dir, 'rank-cache'), '--out', join(dir, 'rank')];
    const r = vitas(...args);
    expect(r.code, r.err).to.equal(0);
    type Rank = { tau: number; lo: number; hi: number; inheritedMedian: number; subnets: { macs: number; inherited: number; inheritedHalves: [number, number]; standalone: number; bySeed: number[] }[]; proxies: { name: string }[]; standalone: { reused: number; trained: number }; repeatability: { tau: number }; inheritedRepeatability: { tau: number } };
    const first = JSON.parse(readFileSync(join(dir, 'rank', 'results.json'), 'utf8')) as Rank;
    expect(first.subnets).to.have.length(4);
    for (const s of first.subnets) {
      expect(s.macs).to.be.within(25_000, 50_000);
      expect(s.bySeed).to.have.length(2);
      expect(s.standalone).to.be.closeTo((s.bySeed[0]! + s.bySeed[1]!) / 2, 1e-12);
    }
    expect(first.tau).to.equal(kendallTau(first.subnets.map((s) => s.inherited), first.subnets.map((s) => s.standalone)));
    expect(first.repeatability.tau).to.equal(kendallTau(first.subnets.map((s) => s.bySeed[0]!), first.subnets.map((s) => s.bySeed[1]!)));
    // the inherited side split in two: the even and odd validation images (the definition holds 100) make up the whole
    for (const s of first.subnets) expect(s.inherited).to.be.closeTo((s.inheritedHalves[0] + s.inheritedHalves[1]) / 2, 1e-12);
    expect(first.inheritedRepeatability.tau).to.equal(kendallTau(first.subnets.map((s) => s.inheritedHalves[0]), first.subnets.map((s) => s.inheritedHalves[1])));
    expect(r.out).to.match(/\| inherited, even vs odd validation images +\| -?\d\.\d{3} +\|/);
    expect(first.lo).to.be.at.most(first.tau);
    expect(first.hi).to.be.at.least(first.tau);
    const inherited = first.subnets.map((s) => s.inherited).sort((a, b) => a - b);
    expect(first.inheritedMedian).to.equal((inherited[1]! + inherited[2]!) / 2);
    expect(r.out).to.include(`Inherited top-1 of the 4 subnets: median ${(100 * first.inheritedMedian).toFixed(2)} %`);
    expect(first.proxies.map((p) => p.name)).to.include('snip');
    expect(first.standalone).to.include({ reused: 0, trained: 8 });
    expect(r.out).to.match(/\| supernet \(inherited weights\) +\| -?\d\.\d{3} +\| \[-?\d\.\d{3}, -?\d\.\d{3}\]/);
    // the second run trains nothing: the stand-alone accuracies come from the cache, and τ is the same
    const again = vitas(...args, '--force');
    expect(again.code, again.err).to.equal(0);
    const second = JSON.parse(readFileSync(join(dir, 'rank', 'results.json'), 'utf8')) as Rank;
    expect(second.standalone).to.include({ reused: 8, trained: 0 });
    expect(second.subnets).to.deep.equal(first.subnets);
  });

  it("vitas retrain --config retrains the searched spec with the definition's recipe, and vitas eval scores the saved model as the retrain did", () => {
    const r = vitas('retrain', join(dir, 'search', 'best-arch.json'), '--config', join(dir, 'def.json'), '--out', join(dir, 'retrain'));
    expect(r.code, r.err).to.equal(0);
    const run = join(dir, 'retrain', 'search-seed1');
    const results = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8')) as { testAccuracy: number; macs: number };
    expect(results.macs).to.equal(costOf(JSON.parse(readFileSync(join(dir, 'search', 'best-arch.json'), 'utf8'))).macs);
    const e = vitas('eval', run, '--data', fixture('fashion-mnist-mini'), '--json');
    expect(e.code, e.err).to.equal(0);
    expect((JSON.parse(e.out) as { top1: number }).top1).to.equal(results.testAccuracy);
  });

  it('vitas ablate runs the distillation factor and reports τ with its interval and the proxies', () => {
    writeFileSync(join(dir, 'ablation.json'), JSON.stringify({ name: 'distill', base: join(dir, 'def.json'), factors: { distillation: [true, false] }, metrics: { kendall: { subnets: 4, epochs: 1 } } }));
    const r = vitas('ablate', join(dir, 'ablation.json'), '--out', join(dir, 'ablation'), '--standalone-cache', join(dir, 'cache'));
    expect(r.code, r.err).to.equal(0);
    const report = readFileSync(join(dir, 'ablation', 'report.md'), 'utf8');
    expect(report).to.match(/\| true +\| -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\]/);
    expect(report).to.match(/\| false +\| -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\]/);
    expect(report).to.include('## Proxies');
    expect(existsSync(join(dir, 'ablation', 'kendall.svg'))).to.equal(true);
  });
});
