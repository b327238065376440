import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  initBackend, presetSpace, encode, runSearch, initialState, DEFAULT_EVOLUTION, bestOf, search, costOf, validateSpec, specKey,
  ProxyEvaluator, ParallelProxyEvaluator, VitasError, sampleSpec, Rng, loadSpec, searchIdentityProbability, describeSpec,
  type Evaluator, type ArchSpec, type EvolutionConfig, type SearchState,
} from '../src/index.js';
import { tinySpace } from './helpers.js';

const space = presetSpace('fmnist');

/** Known optimum: the share of genes equal to a fixed target genome (1.0 only at the target). */
function synthetic(target: ArchSpec): Evaluator & { calls: number } {
  const t = encode(space, target);
  return {
    name: 'synthetic',
    higherIsBetter: true,
    calls: 0,
    async evaluate(specs) {
      this.calls += specs.length;
      return specs.map((s) => encode(space, s).reduce((a, g, i) => a + (g === t[i] ? 1 : 0), 0) / t.length);
    },
  };
}

const window = { min: 5e6, max: 30e6, convention: 'macs' as const };
const config = (strategy: 'evolution' | 'random', seed: number): EvolutionConfig => ({ ...DEFAULT_EVOLUTION, strategy, seed, population: 20, generations: 8, parents: 5, mutations: 10, crossovers: 10, pId: searchIdentityProbability(space, window).pId });

describe('search', () => {
  before(async () => {
    await initBackend();
  });

  it('beats random search at equal evaluations on a synthetic objective, over 5 seeds', async () => {
    let wins = 0;
    const margins: number[] = [];
    for (let seed = 1; seed <= 5; seed++) {
      let target: ArchSpec;
      const rng = new Rng(`target${seed}`);
      do target = sampleSpec(space, rng);
      while (costOf(target).macs < window.min || costOf(target).macs > window.max);
      const evo = synthetic(target), rnd = synthetic(target);
      const a = await runSearch(space, evo, initialState(config('evolution', seed), { macs: window }));
      const b = await runSearch(space, rnd, initialState(config('random', seed), { macs: window }));
      expect(evo.calls).to.equal(rnd.calls);
      expect(a.history.length).to.equal(b.history.length);
      const margin = bestOf(a.history)!.score - bestOf(b.history)!.score;
      margins.push(margin);
      if (margin > 0) wins++;
    }
    expect(wins, `margins ${margins.map((m) => m.toFixed(3))}`).to.be.at.least(4);
    expect(margins.reduce((x, y) => x + y, 0) / 5).to.be.greaterThan(0.05);
  });

  it('evaluates only candidates inside the window, each once', async () => {
    const r = await runSearch(space, synthetic(sampleSpec(space, new Rng(1))), initialState(config('evolution', 3), { macs: window }));
    for (const c of r.history) {
      expect(c.macs).to.be.within(window.min, window.max);
      expect(c.macs).to.equal(costOf(c.spec).macs);
    }
    expect(new Set(r.history.map((c) => specKey(c.spec))).size).to.equal(r.history.length);
  });

  it('resumes to exactly the uninterrupted run', async () => {
    const target = sampleSpec(space, new Rng(9));
    const full = await runSearch(space, synthetic(target), initialState(config('evolution', 4), { macs: window }));
    const signal = { stop: false };
    let saved: SearchState | undefined;
    const partial = await runSearch(space, synthetic(target), initialState(config('evolution', 4), { macs: window }), {
      signal,
      save: (s) => {
        saved = JSON.parse(JSON.stringify(s)) as SearchState;
        if (s.generation === 3) signal.stop = true;
      },
    });
    expect(partial.generation).to.equal(3);
    const resumed = await runSearch(space, synthetic(target), saved!);
    expect(JSON.stringify(resumed.history)).to.equal(JSON.stringify(full.history));
    expect(resumed.rng).to.deep.equal(full.rng);
  });

  it('keeps a parameter window and a latency limit', async () => {
    const r = await runSearch(space, synthetic(sampleSpec(space, new Rng(1))), initialState({ ...config('random', 2), generations: 1 }, { macs: window, params: { max: 150_000 } }));
    for (const c of r.history) expect(c.params).to.be.at.most(150_000);
    const tinyWindow = { min: 1_000, max: 60_000, convention: 'macs' as const };
    const cheap = { evaluate: async (s: ArchSpec[]) => s.map(() => 1), name: 'const', higherIsBetter: true };
    const ok = await runSearch(tinySpace, cheap, initialState({ ...config('random', 1), population: 3, generations: 1, pId: 0.3 }, { macs: tinyWindow, latency: { maxMs: 10_000, batch: 1 } }));
    expect(ok.history).to.have.length(3);
    let err: unknown;
    try {
      await runSearch(tinySpace, cheap, initialState({ ...config('random', 1), population: 3, generations: 1, pId: 0.3, maxTries: 5 }, { macs: tinyWindow, latency: { maxMs: 1e-6, batch: 1 } }));
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.match(/the "latency" constraint ≤ 0.000001 ms rejected 5 of them/);
  });

  it('says which constraint starved the sampler', async () => {
    const narrow = { min: 10_000_000, max: 10_000_010, convention: 'macs' as const };
    let err: unknown;
    try {
      await runSearch(space, synthetic(sampleSpec(space, new Rng(1))), initialState({ ...config('random', 1), maxTries: 50 }, { macs: narrow }));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(VitasError);
    expect((err as Error).message).to.match(/no random sample satisfied the constraints in 50 tries; the "macs" constraint \[10M, 10M\] \(macs\) rejected 50/);
  });

  it('fails at once on a budget outside the reachable range, printing the range', async () => {
    let err: unknown;
    try {
      await search({ budget: '100G', space: 'fmnist', out: mkdtempSync(join(tmpdir(), 'vitas-s-')) });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.equal('--budget: window [90G, 100G] is outside what space "fmnist" can reach: 78.8K – 111M MACs (convention macs)');
    let bad: unknown;
    try {
      await search({ budget: '1.3Q' });
    } catch (e) {
      bad = e;
    }
    expect((bad as Error).message).to.equal('--budget: "1.3Q" is not a budget; use a number with an optional K/M/G suffix, e.g. 1.3G, 850M, 12e6');
  });

  it('writes a run folder whose best-arch.json is a valid spec inside the window', async () => {
    const out = mkdtempSync(join(tmpdir(), 'vitas-run-'));
    const r = await search({ budget: '400K', min: '20K', space: 'fmnist', out, population: 6, generations: 2, customEvaluator: synthetic(sampleSpec(space, new Rng(2))) });
    for (const f of ['config.json', 'history.jsonl', 'best-arch.json', 'pareto.svg', 'summary.md', 'state.json']) expect(existsSync(join(out, f)), f).to.equal(true);
    const best = loadSpec(join(out, 'best-arch.json'));
    expect(costOf(best).macs).to.be.within(20_000, 400_000);
    expect(best.meta).to.include({ evaluator: 'synthetic', seed: 0 });
    expect(readFileSync(join(out, 'history.jsonl'), 'utf8').trim().split('\n')).to.have.length(r.state.history.length);
    expect(readFileSync(join(out, 'pareto.svg'), 'utf8')).to.match(/^<svg[\s\S]*Pareto front[\s\S]*<\/svg>\n$/);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).to.include('| rank |');
    // the top-10 table names each architecture in full (describeSpec), the best first
    const first = readFileSync(join(out, 'summary.md'), 'utf8').split('\n').find((l) => /^\|\s+1 \|/.test(l));
    expect(first).to.include(`| ${describeSpec(best)} `);
  });

  it('scores with a training-free proxy, the same in worker threads as in process', async () => {
    const specs = [sampleSpec(tinySpace, new Rng(1)), sampleSpec(tinySpace, new Rng(2)), sampleSpec(tinySpace, new Rng(3))];
    const serial = new ProxyEvaluator(tinySpace, { seed: 1, batch: 2 });
    const parallel = new ParallelProxyEvaluator(tinySpace, { seed: 1, batch: 2, workers: 2 });
    const a = await serial.evaluate(specs);
    const b = await parallel.evaluate(specs);
    serial.dispose();
    parallel.dispose();
    expect(b).to.deep.equal(a);
    for (const s of a) expect(s).to.be.greaterThan(0);
    expect(new Set(a).size).to.equal(3);
  });

  it('keeps specs of the real vitas-1g search schema-valid', async () => {
    // every candidate of an evolution on vitas-1g under the 1.3G budget (scored by parameter count,
    // no tensors) is a valid spec inside the window
    const big = presetSpace('vitas-1g');
    const macs = { min: 1.17e9, max: 1.3e9, convention: 'macs' as const };
    const byParams: Evaluator = { name: 'params', higherIsBetter: true, evaluate: async (specs) => specs.map((s) => costOf(s).params) };
    const r = await runSearch(big, byParams, initialState({ ...DEFAULT_EVOLUTION, strategy: 'evolution', seed: 1, population: 12, generations: 3, parents: 4, mutations: 6, crossovers: 6, pId: searchIdentityProbability(big, macs).pId }, { macs }));
    expect(r.history.length).to.be.greaterThan(12);
    for (const c of r.history) {
      expect(() => validateSpec(JSON.parse(JSON.stringify(c.spec)), `candidate ${specKey(c.spec)}`)).to.not.throw();
      expect(c.macs).to.be.within(macs.min, macs.max);
    }
  });
});
