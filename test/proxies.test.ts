import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  initBackend, search, sampleSpec, Rng, costOf, runJob, VitasError,
  DssEvaluator, ParallelProxyEvaluator, PROXIES, defaultProxy, describeProxy, dssRole, proxyByName,
  meanTau, type MeasuredTau, type ScoreResult,
} from '../src/index.js';
import { ROOT, tinySpace, tinySpec, tinyXSpace } from './helpers.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'vitas-proxies-'));
const window = (tau: number, name = 'test window'): MeasuredTau => ({ tau, lo: tau - 0.2, hi: tau + 0.1, subnets: 20, window: name, source: 'test', file: 'none' });

describe('proxies', () => {
  before(async () => {
    await initBackend();
  });

  describe('registry', () => {
    it('lists snip, dss, params and macs, each measured in the same five windows', () => {
      expect(PROXIES.map((p) => p.name)).to.deep.equal(['snip', 'dss', 'params', 'macs']);
      for (const p of PROXIES) expect(p.measured!.map((w) => w.file), p.name).to.deep.equal(PROXIES[0]!.measured!.map((w) => w.file)).and.have.length(5);
    });

    it('picks SNIP while no proxy has a measured τ, else the one with the highest mean τ over its windows', () => {
      const bare = PROXIES.map(({ measured: _, ...p }) => p);
      expect(defaultProxy(bare).name).to.equal('snip');
      // dss best in one window, params best on average
      const list = bare.map((p) => (p.name === 'dss' ? { ...p, measured: [window(0.7), window(-0.3)] } : p.name === 'params' ? { ...p, measured: [window(0.4), window(0.1)] } : p));
      expect(meanTau(list.find((p) => p.name === 'dss')!)).to.be.closeTo(0.2, 1e-12);
      expect(defaultProxy(list).name).to.equal('params');
    });

    it("keeps every proxy's measured τ equal to the results.json of the run that measured it, and picks params (the best mean of the three)", () => {
      type Proxies = { name: string; tau: number; lo: number; hi: number }[];
      for (const file of new Set(PROXIES.flatMap((p) => p.measured!.map((w) => w.file)))) {
        const r = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { ranking?: { subnets: unknown[]; proxies: Proxies }; subnets?: unknown[]; proxies?: Proxies };
        const { subnets, proxies } = r.ranking ?? { subnets: r.subnets!, proxies: r.proxies! };
        expect(subnets, file).to.have.length(20);
        for (const p of proxies) {
          const m = proxyByName(p.name).measured!.find((w) => w.file === file)!;
          expect(m.subnets).to.equal(subnets.length);
          for (const k of ['tau', 'lo', 'hi'] as const) expect(m[k], `${file} ${p.name}.${k}`).to.be.closeTo(p[k], 5e-4);
        }
      }
      expect(defaultProxy().name).to.equal('params');
    });

    it('refuses an unknown proxy with one line naming the flag and the allowed names', () => {
      expect(() => proxyByName('synflow')).to.throw(VitasError, /^--proxy: "synflow" is not a proxy; allowed: snip, dss, params, macs$/);
    });

    it('names a proxy with its measured τ and interval when known', () => {
      expect(describeProxy(proxyByName('snip'))).to.equal('snip (Kendall τ mean 0.23 over 5 windows of 20 subnets: 0.07 [−0.34, 0.43] in fmnist-a at 5.4–6M MACs (2 epochs × 2 seeds), 0.70 [0.49, 0.86] in fmnist at 10.8–12M MACs (2 epochs × 1 seed), −0.16 [−0.54, 0.25] in fmnist-c at 10.9–12M MACs (2 epochs × 2 seeds), 0.22 [−0.19, 0.60] in fmnist-a at 5.4–6M MACs, another 20 (2 epochs × 2 seeds), 0.30 [−0.12, 0.68] in fmnist-a at 4.05–4.5M MACs (2 epochs × 2 seeds))');
      expect(describeProxy({ ...proxyByName('snip'), measured: undefined })).to.equal('snip (no measured Kendall τ yet)');
      expect(describeProxy({ ...proxyByName('dss'), measured: [window(0.45)] }, 'the best mean measured τ')).to.equal('dss (Kendall τ mean 0.45 over 1 window of 20 subnets: 0.45 [0.25, 0.55] in test window; the best mean measured τ)');
    });

    it('scores params and MACs from the cost model, and every proxy through a queue job', async () => {
      const spec = tinySpec();
      for (const name of ['params', 'macs'] as const) expect(proxyByName(name).create(tinySpace, { seed: 0 }).score(spec)).to.equal(costOf(spec)[name]);
      for (const p of PROXIES) {
        const viaJob = (await runJob({ kind: 'score', evaluator: { name: 'proxy', space: tinySpace, seed: 0, batch: 1, proxy: p.name }, specs: [spec] })) as ScoreResult;
        const here = p.create(tinySpace, { seed: 0, batch: 1 });
        expect(viaJob.scores, p.name).to.deep.equal([here.score(spec)]);
        here.dispose?.();
      }
    });
  });

  describe('DSS', () => {
    it('counts attention weights by diversity and MLP weights by saliency, and nothing else', () => {
      for (const n of ['blocks.0.attn.q.w', 'blocks.3.attn.proj.w', 'cls_blocks.1.attn.v.w', 'blocks.2.dual.cross.k.w', 'blocks.1.linformer.e', 'blocks.1.mixer.fc2.w', 'semantic.q.w']) expect(dssRole(n), n).to.equal('msa');
      for (const n of ['blocks.0.mlp.fc1.w', 'blocks.0.dual.mlp.fc2.w', 'blocks.4.nll1.fc1.w', 'cls_blocks.0.mlp.fc2.w']) expect(dssRole(n), n).to.equal('mlp');
      for (const n of ['patch_embed.w', 'head.w', 'blocks.0.attn.q.b', 'blocks.0.norm1.gamma', 'blocks.0.lpi.conv1.w', 'semantic.gate.a.w', 'stem.conv1.w']) expect(dssRole(n), n).to.equal(undefined);
    });

    it('scores two specs differently, the same spec alike for one seed, and otherwise for another seed', () => {
      const a = tinySpec();
      const b = tinySpec({ embed: 16 }, { heads: 1, qkv: 24, mlp: 16 });
      const e1 = new DssEvaluator(tinySpace, { seed: 1 });
      const e1again = new DssEvaluator(tinySpace, { seed: 1 });
      const e2 = new DssEvaluator(tinySpace, { seed: 2 });
      const [sa, sb] = [e1.score(a), e1.score(b)];
      expect(sa).to.be.greaterThan(0);
      expect(sb).to.not.equal(sa);
      expect(e1again.score(a)).to.equal(sa);
      expect(e2.score(a)).to.not.equal(sa);
      for (const e of [e1, e1again, e2]) e.dispose();
    });

    it('gives a finite, positive score to subnets of every operator of the catalogue', () => {
      const e = new DssEvaluator(tinyXSpace, { seed: 0 });
      const rng = new Rng(4);
      const seen = new Set<string>();
      for (let i = 0; i < 24; i++) {
        const s = sampleSpec(tinyXSpace, rng);
        for (const blk of s.blocks) if (blk.op === 'attn') seen.add(blk.attention);
        const v = e.score(s);
        expect(Number.isFinite(v) && v > 0, JSON.stringify(s)).to.equal(true);
      }
      e.dispose();
      expect(seen.size).to.be.at.least(5);
    });

    it('scores the same in worker threads as in process', async () => {
      const specs = [1, 2, 3].map((k) => sampleSpec(tinySpace, new Rng(k)));
      const serial = new DssEvaluator(tinySpace, { seed: 1 });
      const parallel = new ParallelProxyEvaluator(tinySpace, { seed: 1, workers: 1, proxy: 'dss' });
      try {
        expect(await parallel.evaluate(specs)).to.deep.equal(await serial.evaluate(specs));
      } finally {
        serial.dispose();
        parallel.dispose();
      }
    });
  });

  describe('vitas search --proxy', function () {
    this.timeout(120_000);
    const dir = tmp();
    const space = join(dir, 'tiny-space.json');
    writeFileSync(space, JSON.stringify(tinySpace));
    const flags = { space, budget: '60K', min: '1K', population: 4, generations: 1, seed: 1 };
    const run = join(dir, 'params-run');

    it('scores with the proxy asked for, names it on the evaluator line and keeps it in config.json', async () => {
      const logs: string[] = [];
      const r = await search({ ...flags, proxy: 'params', out: run, events: { onLog: (m) => void logs.push(m) } });
      expect(logs).to.include(`evaluator: proxy — no --config and no --supernet: no data and no trained weights, so a training-free proxy: ${describeProxy(proxyByName('params'), 'chosen by --proxy')}`);
      expect(r.state.history.every((c) => c.score === c.params)).to.equal(true);
      const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { evaluator: string; proxy: string; command: { proxy: string } };
      expect(config).to.deep.include({ evaluator: 'proxy', proxy: 'params' });
      expect(config.command.proxy).to.equal('params');
      expect(r.resumeCommand).to.include('--proxy params');
    });

    it('a resumed run refuses a different --proxy with one line, and keeps its own without the flag', async () => {
      let err: unknown;
      try {
        await search({ out: run, resume: true, proxy: 'macs' });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.equal(`--proxy: macs conflicts with the run being resumed (params, in ${run}/config.json); leave --proxy out to keep it, or start a new run (--force or another --out)`);
      const logs: string[] = [];
      const r = await search({ out: run, resume: true, generations: 2, events: { onLog: (m) => void logs.push(m) } });
      expect(logs.some((m) => m.includes('training-free proxy: params'))).to.equal(true);
      expect(r.state.history.every((c) => c.score === c.params)).to.equal(true);
    });

    it('uses the proxy of the best mean measured τ without --proxy (params), and says so with its τ per window', async () => {
      const logs: string[] = [];
      const r = await search({ ...flags, out: join(dir, 'default-run'), events: { onLog: (m) => void logs.push(m) } });
      expect(logs.find((m) => m.startsWith('evaluator: '))).to.match(/training-free proxy: params \(Kendall τ mean 0\.35 over 5 windows of 20 subnets: 0\.47 \[0\.11, 0\.74\] in fmnist-a [^;]+; the best mean measured τ\)$/);
      expect(r.state.history.every((c) => c.score === c.params)).to.equal(true);
    });

    it('refuses --proxy when the search scores with its supernet', async () => {
      const def = join(dir, 'def.json');
      writeFileSync(def, JSON.stringify({ name: 'd', space, data: { dataset: 'synthetic', validation: 16, limit: 64, size: 8, channels: 1, classes: 4 }, budget: { max: '60K', min: '1K' } }));
      let err: unknown;
      try {
        await search({ config: def, proxy: 'dss', out: join(dir, 'sn') });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.equal('--proxy: picks the training-free proxy, but this search scores with the supernet (--config or --supernet given); add --evaluator proxy');
    });

    it('exits 2 on an unknown --proxy with one line listing the allowed names', async () => {
      const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'search', '--budget', '1.3G', '--proxy', 'synflow', '--out', join(dir, 'bad')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const code = await new Promise<number | null>((res) => child.on('exit', res));
      expect(code, err).to.equal(2);
      expect(err.trim()).to.equal('vitas: --proxy: "synflow" is not a proxy; allowed: snip, dss, params, macs');
    });
  });
});
