import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPercent, initBackend, loadCheckpoint, meanStd, retrainMany, specNames, studentTQuantile, validateSpec, welchInterval, type ArchSpec } from '../src/index.js';
import { fixture, ROOT } from './helpers.js';

describe('summary statistics', () => {
  it('gives the mean and the sample standard deviation (n − 1)', () => {
    const s = meanStd([0.9, 0.92, 0.94]);
    expect(s.mean).to.be.closeTo(0.92, 1e-12);
    expect(s.std).to.be.closeTo(0.02, 1e-12);
    expect(formatPercent(s)).to.equal('92.00 ± 2.00');
    expect(formatPercent(meanStd([0.5]))).to.equal('50.00');
  });

  it("gives Student's t quantiles of the tables (df 1, 2, 4, 10)", () => {
    const q = [1, 2, 4, 10].map((df) => studentTQuantile(0.975, df));
    [12.7062, 4.3027, 2.7764, 2.2281].forEach((v, i) => expect(q[i]).to.be.closeTo(v, 1e-4));
  });

  it("gives Welch's 95 % interval of a difference of means as R's t.test does", () => {
    // t.test(c(1,2,3,4), c(4,5,9)): mean difference −3.5, df 2.7202, 95 % CI [−9.0982, 2.0982]
    const d = welchInterval([1, 2, 3, 4], [4, 5, 9]);
    expect(d.diff).to.be.closeTo(-3.5, 1e-12);
    expect(d.df).to.be.closeTo(2.7202, 1e-4);
    expect(d.lo).to.be.closeTo(-9.0982, 1e-3);
    expect(d.hi).to.be.closeTo(2.0982, 1e-3);
    expect(Number.isNaN(welchInterval([1], [2, 3]).lo)).to.equal(true);
  });
});

describe('retrain run names', () => {
  it("names a search's best-arch.json, and files sharing a name, by their folder; others by file name", () => {
    expect(specNames(['runs/search-evolution-1/best-arch.json'])).to.deep.equal(['search-evolution-1']);
    expect(specNames(['a/x.json', 'b/x.json', 'examples/fmnist-deit.json'])).to.deep.equal(['a', 'b', 'fmnist-deit']);
    expect(() => specNames(['a/x.json', 'a/x.json'])).to.throw(/both run as "a"/);
  });
});

describe('vitas retrain of several specs and seeds (in process)', () => {
  it('trains each (spec, seed) on the first --limit images, tabulates test top-1 as mean ± std over the seeds, and does not train a finished run again', function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-many-'));
    const blk = (attention: string, extra: object): object => ({ op: 'attn', attention, heads: 2, qkv: 24, mlp: 16, ...extra });
    const spec = (b: object): object => ({ version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [b] });
    writeFileSync(join(dir, 'soft.json'), JSON.stringify(spec(blk('softmax', {}))));
    writeFileSync(join(dir, 'lin.json'), JSON.stringify(spec(blk('linformer', { features: 4 }))));
    const out = join(dir, 'runs');
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'retrain', join(dir, 'soft.json'), join(dir, 'lin.json'), '--data', fixture('fashion-mnist-mini'), '--validation', '100', '--limit', '300', '--epochs', '1', '--batch', '50', '--seeds', '0,1', '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    for (const name of ['soft', 'lin']) {
      const runs = [0, 1].map((s) => JSON.parse(readFileSync(join(out, `${name}-seed${s}`, 'results.json'), 'utf8')) as { testAccuracy: number; history: { trainImages: number }[] });
      // --limit 300 with 100 held out for validation: 200 training images per epoch
      for (const run of runs) expect(run.history[0]!.trainImages).to.equal(200);
      const cell = formatPercent(meanStd(runs.map((x) => x.testAccuracy)));
      expect(r.stdout).to.match(new RegExp(`\\| ${name} +\\|.*\\| 2 +\\|.*\\| ${cell.replace(/[.]/g, '\\.')} +\\|`));
    }
    expect(readFileSync(join(out, 'summary.svg'), 'utf8')).to.include('<svg');
    // the first spec against the other: the difference of mean test top-1 and Welch's interval
    const test = (name: string): number[] => [0, 1].map((k) => 100 * (JSON.parse(readFileSync(join(out, `${name}-seed${k}`, 'results.json'), 'utf8')) as { testAccuracy: number }).testAccuracy);
    const d = welchInterval(test('soft'), test('lin'));
    const signed = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(md).to.include('## soft against the others');
    expect(md).to.match(new RegExp(`\\| soft − lin +\\| ${signed(d.diff).replace('+', '\\+')} +\\| \\[${signed(d.lo).replace('+', '\\+')}, ${signed(d.hi).replace('+', '\\+')}\\] +\\|`));

    // the same command again (--resume) continues the list: every run is finished, so none trains again
    const before = [0, 1].map((s) => statSync(join(out, `soft-seed${s}`, 'results.json')).mtimeMs);
    const again = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'retrain', join(dir, 'soft.json'), join(dir, 'lin.json'), '--data', fixture('fashion-mnist-mini'), '--validation', '100', '--limit', '300', '--epochs', '1', '--batch', '50', '--seeds', '0,1', '--out', out, '--resume'], { encoding: 'utf8' });
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stderr).not.to.match(/mean loss/);
    expect([0, 1].map((s) => statSync(join(out, `soft-seed${s}`, 'results.json')).mtimeMs)).to.deep.equal(before);
    expect(again.stdout).to.equal(r.stdout);
  });
});

describe('vitas retrain --config', () => {
  it("trains with the definition's data and retrain recipe, runs the definition's seeds, and names two best-arch.json runs by their folders", function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-rcfg-'));
    const spec = (embed: number): object => ({ version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 24, mlp: 16 }] });
    for (const [run, embed] of [['search-a', 16], ['search-b', 24]] as const) {
      mkdirSync(join(dir, run));
      writeFileSync(join(dir, run, 'best-arch.json'), JSON.stringify(spec(embed)));
    }
    const def = {
      name: 'cfg', space: 'fmnist', budget: { max: '12M' },
      data: { dataset: 'fashion-mnist', dir: fixture('fashion-mnist-mini'), validation: 100, limit: 300 },
      retrain: { epochs: 2, batch: 50, lr: 0.002, dropPath: 0, seeds: [3] },
    };
    writeFileSync(join(dir, 'def.json'), JSON.stringify(def));
    const out = join(dir, 'runs');
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'retrain', join(dir, 'search-a', 'best-arch.json'), join(dir, 'search-b', 'best-arch.json'), '--config', join(dir, 'def.json'), '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    for (const name of ['search-a', 'search-b']) {
      const res = JSON.parse(readFileSync(join(out, `${name}-seed3`, 'results.json'), 'utf8')) as { history: { trainImages: number }[] };
      // 2 epochs (the definition's), 200 training images each (limit 300, validation 100), batch 50
      expect(res.history.map((h) => h.trainImages)).to.deep.equal([200, 200]);
      // the recipe the run trained with, as its checkpoint recorded it
      const meta = loadCheckpoint<{ recipe: { lr: number; batch: number; dropPath: number; seed: number } }>(join(out, `${name}-seed3`, 'retrain.ckpt')).meta;
      expect(meta.recipe).to.include({ lr: 0.002, batch: 50, dropPath: 0, seed: 3 });
    }
    // a flag wins over the definition: --epochs 1
    const one = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'retrain', join(dir, 'search-a', 'best-arch.json'), '--config', join(dir, 'def.json'), '--epochs', '1', '--seeds', '4', '--out', join(dir, 'one')], { encoding: 'utf8' });
    expect(one.status, one.stderr).to.equal(0);
    const res = JSON.parse(readFileSync(join(dir, 'one', 'search-a-seed4', 'results.json'), 'utf8')) as { history: unknown[] };
    expect(res.history).to.have.length(1);
  });

  it('asks for --data or --config in one line', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'retrain', 'x.json'], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr.trim()).to.equal('vitas: retrain: give --data <name|dir> or --config <search definition>');
  });
});

describe('vitas retrain of several runs, stopped with Ctrl-C', () => {
  it('saves the run in hand, exits 130, and the same command with --resume finishes the list', async function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-many-int-'));
    const spec = { version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 24, mlp: 16 }] };
    writeFileSync(join(dir, 'a.json'), JSON.stringify(spec));
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ ...spec, embed: 24 }));
    const out = join(dir, 'runs');
    const args = [join(ROOT, 'dist/src/cli/main.js'), 'retrain', join(dir, 'a.json'), join(dir, 'b.json'), '--data', fixture('fashion-mnist-mini'), '--validation', '100', '--limit', '300', '--epochs', '3', '--batch', '20', '--seeds', '0', '--out', out];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      // the first run's second epoch is under way: stop it there
      if (!sent && /epoch 2\/3 step/.test(err)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    expect(code, err).to.equal(130);
    expect(err).to.include('retrain: stopped; 0 run(s) finished, the one in hand saved its checkpoint; the same command again continues the list');
    expect(existsSync(join(out, 'a-seed0', 'retrain.ckpt'))).to.equal(true);
    expect(existsSync(join(out, 'a-seed0', 'results.json'))).to.equal(false);
    const again = spawnSync(process.execPath, [...args, '--resume'], { encoding: 'utf8' });
    expect(again.status, again.stderr).to.equal(0);
    for (const name of ['a', 'b']) {
      const res = JSON.parse(readFileSync(join(out, `${name}-seed0`, 'results.json'), 'utf8')) as { history: unknown[] };
      expect(res.history).to.have.length(3);
    }
  });
});

describe('the order of a retrain list', () => {
  before(async () => {
    await initBackend();
  });

  it('runs seed by seed, continues with the run stopped midway first (from its checkpoint), and reports spec by spec', async function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-many-order-'));
    const spec = (embed: number): ArchSpec => validateSpec({ version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 24, mlp: 16 }] });
    const base = { specs: [{ name: 'a', spec: spec(16) }, { name: 'b', spec: spec(24) }], seeds: [0, 1], data: fixture('fashion-mnist-mini'), validation: 100, limit: 300, epochs: 2, recipe: { batch: 20 }, out: join(dir, 'runs') };
    const starts = (log: string[]): string[] => log.filter((m) => /^retrain \d+\/\d+:/.test(m));
    const first: string[] = [];
    const signal = { stop: false };
    // stop in the second run's first epoch
    const stopped = await retrainMany({ ...base, signal, onLog: (m) => first.push(m), events: { onStep: () => { if (first.at(-1)?.startsWith('retrain 2/4')) signal.stop = true; } } });
    expect(stopped.stopped).to.equal(true);
    expect(starts(first)).to.deep.equal(['retrain 1/4: a, seed 0', 'retrain 2/4: b, seed 0']);
    expect(existsSync(join(dir, 'runs', 'b-seed0', 'retrain.ckpt'))).to.equal(true);
    // the summary already tabulates the finished run, and says how many of the list it covers
    expect(stopped.runs.map((r) => `${r.name}-seed${r.seed}`)).to.deep.equal(['a-seed0']);
    const partial = readFileSync(join(dir, 'runs', 'summary.md'), 'utf8');
    expect(partial).to.include('1 of 4 runs have finished');
    expect(partial).to.match(/\| a +\|.*\| 1 +\|/);
    const saved = JSON.parse(readFileSync(join(dir, 'runs', 'results.json'), 'utf8')) as { planned: string[]; runs: unknown[] };
    expect([saved.planned.length, saved.runs.length]).to.deep.equal([4, 1]);
    // folders are named relative to the summary, so the same list continues after a move or clone
    expect([...saved.planned].sort()).to.deep.equal(['a-seed0', 'a-seed1', 'b-seed0', 'b-seed1']);
    const second: string[] = [];
    const resumedAt: { startEpoch: number; startStep: number }[] = [];
    const done = await retrainMany({ ...base, onLog: (m) => second.push(m), events: { onStart: (e) => resumedAt.push(e) } });
    // the stopped run continued from the step it saved, not from the start
    expect(resumedAt[0]!.startEpoch * 1000 + resumedAt[0]!.startStep).to.be.greaterThan(0);
    // a, seed 0 was finished (its result is read back, it does not train); the seed-1 runs start fresh
    expect(resumedAt.slice(1).map((e) => e.startEpoch + e.startStep)).to.deep.equal([0, 0]);
    expect(starts(second)).to.deep.equal(['retrain 1/4: b, seed 0', 'retrain 3/4: a, seed 1', 'retrain 4/4: b, seed 1']);
    expect(second).to.include('1 of 4 run(s) finished in an earlier call');
    expect(done.runs.map((r) => `${r.name}-seed${r.seed}`)).to.deep.equal(['a-seed0', 'a-seed1', 'b-seed0', 'b-seed1']);
    const b0 = JSON.parse(readFileSync(join(dir, 'runs', 'b-seed0', 'results.json'), 'utf8')) as { history: unknown[] };
    expect(b0.history).to.have.length(2);
    const full = readFileSync(join(dir, 'runs', 'summary.md'), 'utf8');
    expect(full).not.to.include('runs have finished');
    expect(full).to.match(/\| a +\|.*\| 2 +\|/);
    expect(full).to.match(/\| b +\|.*\| 2 +\|/);
    expect(full).to.match(/\| b-seed1 +\|/);
    expect(full).not.to.include(dir);
  });

  it('continues a list whose folder was moved (or cloned): a finished run is read back, a stopped one resumes from its step', async function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-many-moved-'));
    const spec = validateSpec({ version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 24, mlp: 16 }] });
    const base = { specs: [{ name: 'a', spec }], seeds: [0, 1], data: fixture('fashion-mnist-mini'), validation: 100, limit: 300, epochs: 2, recipe: { batch: 20 } };
    const log: string[] = [];
    const signal = { stop: false };
    const stopped = await retrainMany({ ...base, out: join(dir, 'here'), signal, onLog: (m) => log.push(m), events: { onStep: () => { if (log.at(-1)?.startsWith('retrain 2/2')) signal.stop = true; } } });
    expect(stopped.stopped).to.equal(true);
    renameSync(join(dir, 'here'), join(dir, 'there'));
    const resumedAt: { startEpoch: number; startStep: number }[] = [];
    const moved: string[] = [];
    const done = await retrainMany({ ...base, out: join(dir, 'there'), onLog: (m) => moved.push(m), events: { onStart: (e) => resumedAt.push(e) } });
    expect(moved).to.include('1 of 2 run(s) finished in an earlier call');
    // only seed 1 trains, from the step it saved before the move
    expect(resumedAt).to.have.length(1);
    expect(resumedAt[0]!.startEpoch * 1000 + resumedAt[0]!.startStep).to.be.greaterThan(0);
    expect(done.runs.map((r) => r.out)).to.deep.equal([join(dir, 'there', 'a-seed0'), join(dir, 'there', 'a-seed1')]);
    expect(readFileSync(join(dir, 'there', 'summary.md'), 'utf8')).not.to.include(join(dir, 'here'));
  });
});
