import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadCheckpoint, tensorSeed } from '../src/index.js';
import { fixture, ROOT } from './helpers.js';

const MAIN = join(ROOT, 'dist/src/cli/main.js');
const vitas = (...args: string[]): { code: number; out: string; err: string } => {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
};

/** A record with its wall-clock fields (seconds, img/s) removed: everything else must repeat exactly. */
function withoutTimes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutTimes);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => !['seconds', 'trainSeconds', 'trainImagesPerSecond'].includes(k)).map(([k, x]) => [k, withoutTimes(x)]));
  }
  return v;
}

// SNIP, not the default proxy (params, from the cost model): it draws seeded tensors, which is
// what has to repeat, and it is slow enough for a Ctrl-C to land mid-search
const SEARCH = ['search', '--space', 'fmnist', '--budget', '12M', '--population', '6', '--proxy', 'snip'];

/** a typed array's own bytes (a checkpoint's arrays are views into the whole file) */
const bytesOf = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

describe('the default seed reproduces', () => {
  before(async () => {
    await initBackend();
  });

  describe('tensorSeed (every seed handed to a tfjs random op)', () => {
    it('never returns 0 (tfjs\'s "no seed"), for the default run seed 0 and any purpose', () => {
      for (const run of [0, 1, -1, 2 ** 31, 'x']) {
        for (let i = 0; i < 20_000; i++) {
          const s = tensorSeed(run, 'purpose', i);
          expect(s).to.be.within(1, 2 ** 31 - 1);
          expect(Number.isInteger(s)).to.equal(true);
        }
      }
    });

    it('gives distinct purposes distinct seeds, and the same purpose the same seed', () => {
      const labels = ['proxy/input', 'latency/input', 'supernet/blocks.0.attn.q.w', 'supernet/blocks.0.attn.k.w', 'model/head.w', 'model/head.b'];
      const seeds = labels.flatMap((l) => [0, 1, 2].map((run) => tensorSeed(run, l)));
      expect(new Set(seeds).size).to.equal(seeds.length);
      const many = new Set(Array.from({ length: 10_000 }, (_, i) => tensorSeed(0, `model/blocks.${i}.w`)));
      expect(many.size).to.equal(10_000);
      expect(tensorSeed(0, 'proxy/input')).to.equal(tensorSeed(0, 'proxy/input'));
    });

    it('makes a tfjs draw with run seed 0 repeat', () => {
      const draw = (): Float32Array => tf.tidy(() => tf.randomNormal([64], 0, 1, 'float32', tensorSeed(0, 'test/draw')).dataSync() as Float32Array);
      expect(Array.from(draw())).to.deep.equal(Array.from(draw()));
    });
  });

  it('vitas search twice with no --seed: the same best and a byte-identical history.jsonl', function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-repro-search-'));
    const [a, b] = ['a', 'b'].map((d) => vitas(...SEARCH, '--generations', '2', '--out', join(dir, d)));
    expect(a!.code, a!.err).to.equal(0);
    expect(b!.code, b!.err).to.equal(0);
    const best = (out: string): string => out.split('\n').find((l) => l.startsWith('best:'))!;
    expect(best(a!.out)).to.be.a('string');
    expect(best(b!.out)).to.equal(best(a!.out));
    expect(readFileSync(join(dir, 'b', 'history.jsonl'), 'utf8')).to.equal(readFileSync(join(dir, 'a', 'history.jsonl'), 'utf8'));
    expect(readFileSync(join(dir, 'b', 'best-arch.json'), 'utf8')).to.equal(readFileSync(join(dir, 'a', 'best-arch.json'), 'utf8'));
  });

  it('vitas search --resume after Ctrl-C, with no --seed, writes the uninterrupted run\'s history.jsonl byte for byte', async function () {
    this.timeout(240_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-repro-resume-'));
    const args = [...SEARCH, '--generations', '5'];
    const full = vitas(...args, '--out', join(dir, 'full'));
    expect(full.code, full.err).to.equal(0);
    // Ctrl-C once the first generation is reported: the search stops after the one in flight
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, [MAIN, ...args, '--out', join(dir, 'cut')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let sent = false;
      p.stderr.on('data', (d: Buffer) => {
        if (!sent && d.toString().includes('generation 1/5')) {
          sent = true;
          p.kill('SIGINT');
        }
      });
      p.on('exit', (c) => resolve(c));
    });
    expect(code).to.equal(130);
    const cut = JSON.parse(readFileSync(join(dir, 'cut', 'state.json'), 'utf8')) as { generation: number };
    expect(cut.generation).to.be.below(5);
    const resumed = vitas(...args, '--out', join(dir, 'cut'), '--resume');
    expect(resumed.code, resumed.err).to.equal(0);
    expect(readFileSync(join(dir, 'cut', 'history.jsonl'), 'utf8')).to.equal(readFileSync(join(dir, 'full', 'history.jsonl'), 'utf8'));
  });

  it('vitas supernet train twice with no seed in the definition: identical checkpoints and records (wall times aside)', function () {
    this.timeout(300_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-repro-supernet-'));
    const def = { name: 'mini', space: 'fmnist', data: { dataset: 'fashion-mnist', dir: fixture('fashion-mnist-mini'), validation: 100, limit: 300 }, budget: { max: '12M' }, supernet: { epochs: 1, batch: 50 } };
    writeFileSync(join(dir, 'def.json'), JSON.stringify(def));
    for (const d of ['a', 'b']) {
      const r = vitas('supernet', 'train', '--config', join(dir, 'def.json'), '--out', join(dir, d), '--val-images', '50');
      expect(r.code, r.err).to.equal(0);
    }
    const [a, b] = ['a', 'b'].map((d) => loadCheckpoint<object>(join(dir, d, 'supernet.ckpt')));
    expect([...b!.tensors.keys()]).to.deep.equal([...a!.tensors.keys()]);
    for (const [name, t] of a!.tensors) expect(bytesOf(b!.tensors.get(name)!.values).equals(bytesOf(t.values)), name).to.equal(true);
    expect(withoutTimes(b!.meta)).to.deep.equal(withoutTimes(a!.meta));
    const record = (d: string): unknown => withoutTimes(JSON.parse(readFileSync(join(dir, d, 'supernet.json'), 'utf8')));
    expect(record('b')).to.deep.equal(record('a'));
  });

  it('vitas retrain twice with no --seed: byte-identical weights and the same history and metrics', function () {
    this.timeout(300_000);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-repro-retrain-'));
    const spec = { version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 24, mlp: 16 }] };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    for (const d of ['a', 'b']) {
      const r = vitas('retrain', join(dir, 'spec.json'), '--data', fixture('fashion-mnist-mini'), '--validation', '100', '--limit', '300', '--epochs', '2', '--batch', '50', '--out', join(dir, d));
      expect(r.code, r.err).to.equal(0);
    }
    const bytes = (d: string, f: string): Buffer => readFileSync(join(dir, d, f));
    expect(bytes('b', 'weights.bin').equals(bytes('a', 'weights.bin'))).to.equal(true);
    const json = (d: string, f: string): unknown => withoutTimes(JSON.parse(readFileSync(join(dir, d, f), 'utf8')));
    expect(json('b', 'results.json')).to.deep.equal(json('a', 'results.json'));
    expect(json('b', 'model.json')).to.deep.equal(json('a', 'model.json'));
    expect(bytes('b', 'test.md').equals(bytes('a', 'test.md'))).to.equal(true);
  });
});
