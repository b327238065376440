import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  initBackend, readIdxPair, readCifar, loadData, saveModel, loadModel, buildModel, trainSupernet, loadSupernet, loadCheckpoint, checkMemory,
  syntheticDataset, splitValidation, VitasError, Supernet, evaluateSubnet, evaluationBatch, reachableRange, presetSpace, type ArchSpec,
} from '../src/index.js';
import { tf } from '../src/backend/index.js';
import { fixture, ROOT, tinySpace, tinySpec } from './helpers.js';

const vitas = (...args: string[]): { code: number | null; out: string; err: string; signal: NodeJS.Signals | null } => {
  // a deadline, so a hang fails the test instead of stalling the suite
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, out: r.stdout, err: r.stderr, signal: r.signal };
};
const FM = fixture('fashion-mnist-mini');
const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

/** A copy of the Fashion-MNIST fixture whose `name` is replaced by `bytes`. */
function fixtureWith(name: string, bytes: Uint8Array): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vitas-data-'));
  for (const f of FILES) copyFileSync(join(FM, f), join(dir, f));
  writeFileSync(join(dir, name), bytes);
  return { dir, file: join(dir, name) };
}

/** XOR 200 bytes from `at` (default: the middle of the file). */
function flip200(path: string, at?: number): void {
  const b = readFileSync(path);
  const start = at ?? Math.floor(b.length / 2);
  for (let i = start; i < start + 200; i++) b[i] = b[i]! ^ 0xa5;
  writeFileSync(path, b);
}

/** Runs `f` and returns what it wrote through console.error. */
function stderrOf(f: () => void): string[] {
  const lines: string[] = [];
  const keep = console.error;
  console.error = (...a: unknown[]): void => void lines.push(a.join(' '));
  try {
    f();
  } finally {
    console.error = keep;
  }
  return lines;
}

const raised = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(VitasError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('damaged and foreign files', () => {
  before(async () => {
    await initBackend();
  });

  describe('data files', () => {
    const images = readFileSync(join(FM, 'train-images-idx3-ubyte.gz'));
    const idx = (bytes: number[]): Uint8Array => gzipSync(Uint8Array.from(bytes));
    const read = (dir: string): unknown => readIdxPair(dir, 'train', 'fm', 10, { flip: true });

    it('names a truncated .gz in one line with exit code 2 (vitas retrain), not a zlib stack trace', () => {
      const { dir, file } = fixtureWith('train-images-idx3-ubyte.gz', images.subarray(0, images.length >> 1));
      const specFile = join(dir, 'spec.json');
      writeFileSync(specFile, readFileSync(join(ROOT, 'examples/fmnist-deit.json')));
      const r = vitas('retrain', specFile, '--data', dir, '--validation', '100', '--epochs', '1', '--out', join(dir, 'run'));
      expect(r.code, r.err).to.equal(2);
      const lines = r.err.trim().split('\n');
      expect(lines.at(-1)).to.equal(`vitas: ${file}: truncated: the gzip stream ends early; download or copy the file again`);
      expect(r.err).to.not.match(/Z_BUF_ERROR|\n\s+at /);
    });

    it('names a .gz whose compressed data is damaged', () => {
      const bad = Buffer.from(images);
      for (let i = 100; i < 300; i++) bad[i] = bad[i]! ^ 0xff;
      const { dir, file } = fixtureWith('train-images-idx3-ubyte.gz', bad);
      expect(raised(() => read(dir))).to.match(new RegExp(`^${file}: corrupt gzip data`));
    });

    it('names a file with a wrong magic number, a cut header and cut data', () => {
      const magic = fixtureWith('train-images-idx3-ubyte.gz', idx([8, 3, 0, 0, 0, 0, 0, 1]));
      expect(raised(() => read(magic.dir))).to.equal(`${magic.file}: not an IDX file (bad magic number)`);
      const header = fixtureWith('train-images-idx3-ubyte.gz', idx([0, 0, 8, 3, 0, 0, 0, 1, 0, 0]));
      expect(raised(() => read(header.dir))).to.equal(`${header.file}: truncated IDX header (10 bytes for 3 dimension(s))`);
      const data = fixtureWith('train-labels-idx1-ubyte.gz', idx([0, 0, 8, 1, 0, 0, 2, 88, 1, 2, 3]));
      expect(raised(() => read(data.dir))).to.equal(`${data.file}: truncated IDX file (3 of 600 bytes)`);
      const empty = fixtureWith('train-labels-idx1-ubyte.gz', new Uint8Array(0));
      expect(raised(() => read(empty.dir))).to.equal(`${empty.file}: not an IDX file (bad magic number)`);
    });

    it('names a CIFAR file that is missing, empty or not whole records', () => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-cifar-'));
      const file = join(dir, 'data_batch_1.bin');
      expect(raised(() => readCifar([file], { variant: 10 }))).to.equal(`${file}: cannot read CIFAR-10 file (no such file)`);
      writeFileSync(file, new Uint8Array(0));
      expect(raised(() => readCifar([file], { variant: 10 }))).to.match(new RegExp(`^${file}: size 0 is not a multiple of the CIFAR-10 record`));
      writeFileSync(file, new Uint8Array(3073 + 10));
      expect(raised(() => readCifar([file], { variant: 10 }))).to.match(new RegExp(`^${file}: size 3083 is not a multiple`));
      expect(raised(() => loadData({ dataset: 'cifar10', dir, validation: 1 }))).to.match(/cannot read CIFAR-10 file|not a multiple/);
    });
  });

  describe('saved models (model.json + weights.bin)', () => {
    const saved = (): { dir: string; path: string; json: Record<string, unknown> } => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-saved-'));
      const model = buildModel(tinySpec(), 3);
      saveModel(dir, model, { generatedBy: 'test' });
      model.dispose();
      const path = join(dir, 'model.json');
      return { dir, path, json: JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> };
    };
    const rewrite = (path: string, json: unknown): void => writeFileSync(path, JSON.stringify(json));
    type Manifest = { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];

    it('records the sha256 of weights.bin in model.json and loads it back silently', () => {
      const { dir, json } = saved();
      expect((json.sha256 as Record<string, string>)['weights.bin']).to.match(/^[0-9a-f]{64}$/);
      const out = stderrOf(() => loadModel(dir).model.dispose());
      expect(out).to.deep.equal([]);
    });

    it('refuses a weights.bin with 200 flipped bytes, naming the file (vitas eval: exit 2)', () => {
      const { dir } = saved();
      flip200(join(dir, 'weights.bin'), 40);
      expect(raised(() => loadModel(dir))).to.match(new RegExp(`^${join(dir, 'weights.bin')}: checksum mismatch \\(sha256 [0-9a-f]{12}…, model.json says [0-9a-f]{12}…\\)`));
      const r = vitas('eval', dir, '--data', 'synthetic');
      expect(r.code, r.err).to.equal(2);
      expect(r.err.trim().split('\n').at(-1)).to.match(/^vitas: .*weights\.bin: checksum mismatch/);
    });

    it('checks model.json against its schema, naming the file and the JSON path', () => {
      const { path, json } = saved();
      const manifest = (): Manifest => JSON.parse(JSON.stringify(json.weightsManifest)) as Manifest;
      const dir = join(path, '..');
      const m1 = manifest();
      m1[0]!.weights[0]!.dtype = 'int32';
      rewrite(path, { ...json, weightsManifest: m1 });
      expect(raised(() => loadModel(dir))).to.equal(`${path}: weightsManifest[0].weights[0].dtype: "int32" is not allowed; must be "float32"`);
      rewrite(path, { ...json, weightsManifest: undefined });
      expect(raised(() => loadModel(dir))).to.equal(`${path}: weightsManifest: is required`);
      rewrite(path, { ...json, extra: 1 });
      expect(raised(() => loadModel(dir))).to.match(new RegExp(`^${path}: extra: unknown field; allowed fields: format, version`));
      rewrite(path, { ...json, sha256: { 'weights.bin': 'abc' } });
      expect(raised(() => loadModel(dir))).to.match(new RegExp(`^${path}: sha256\\.weights\\.bin: "abc" must match pattern`));
      const m2 = manifest();
      m2[0]!.paths = ['../elsewhere.bin'];
      rewrite(path, { ...json, weightsManifest: m2 });
      expect(raised(() => loadModel(dir))).to.match(new RegExp(`^${path}: weightsManifest\\[0\\]\\.paths\\[0\\]: "../elsewhere.bin" must match pattern`));
      rewrite(path, { ...json, spec: { ...(json.spec as object), embed: 0 } });
      expect(raised(() => loadModel(dir))).to.equal(`${path}: spec: embed: 0 must be >= 1`);
      writeFileSync(path, '{"format": "vitas-model",');
      expect(raised(() => loadModel(dir))).to.match(new RegExp(`^${path}: not valid JSON`));
    });

    it('holds the manifest to the spec: a missing or reshaped weight is named', () => {
      const { path, json } = saved();
      const dir = join(path, '..');
      const m = JSON.parse(JSON.stringify(json.weightsManifest)) as Manifest;
      const i = m[0]!.weights.findIndex((w) => w.name === 'head.w');
      m[0]!.weights[i]!.shape = [4, 8];
      rewrite(path, { ...json, weightsManifest: m });
      expect(raised(() => loadModel(dir))).to.equal(`${path}: weightsManifest[0].weights[${i}].shape: [4,8] is not allowed; the spec needs [8,4]`);
      m[0]!.weights.splice(i, 1);
      rewrite(path, { ...json, weightsManifest: m });
      expect(raised(() => loadModel(dir))).to.equal(`${path}: weightsManifest[0].weights: no entry "head.w" (the spec needs it)`);
    });

    it('loads a model saved before checksums, with a one-line warning naming model.json', () => {
      const { dir, path, json } = saved();
      rewrite(path, { ...json, sha256: undefined });
      const out = stderrOf(() => loadModel(dir).model.dispose());
      expect(out).to.deep.equal([`vitas: warning: ${path}: no sha256 for weights.bin (saved before vitas checked them); weights loaded unverified`]);
    });
  });

  describe('checkpoints', () => {
    const data = splitValidation(syntheticDataset({ count: 48, shape: [8, 8, 1], classes: 4, seed: 1 }), 16, 0);
    const recipe = { epochs: 1, batch: 16, sampling: 'uniform' as const, warmupEpochs: 1, seed: 2 };
    const trained = async (): Promise<string> => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-ckpt-'));
      const r = await trainSupernet({ space: tinySpace, data, recipe, out: dir });
      r.supernet.dispose();
      return join(dir, 'supernet.ckpt');
    };

    it('refuses a supernet checkpoint with 200 flipped bytes, naming it, for loading and for --resume', async () => {
      const path = await trained();
      flip200(path);
      const mismatch = new RegExp(`^${path}: checksum mismatch \\(sha256 [0-9a-f]{12}…, the header says [0-9a-f]{12}…\\): the file is damaged; refusing to load it$`);
      expect(raised(() => loadSupernet(tinySpace, path))).to.match(mismatch);
      let err: unknown;
      try {
        await trainSupernet({ space: tinySpace, data, recipe: { ...recipe, epochs: 2 }, out: join(path, '..'), resume: true });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.match(mismatch);
    });

    it('refuses 200 flipped bytes anywhere in the file: the checksum covers the header too', async () => {
      const path = await trained();
      const size = readFileSync(path).length;
      for (const at of [4, 60, 300, size - 200]) {
        const copy = `${path}.${at}`;
        copyFileSync(path, copy);
        flip200(copy, at);
        expect(raised(() => loadCheckpoint(copy))).to.match(new RegExp(`^${copy}: (checksum mismatch|not a readable vitas checkpoint)`));
      }
    });

    it('loads a checkpoint written before checksums (format 1), with a one-line warning naming it', async () => {
      const path = await trained();
      const b = readFileSync(path);
      const len = b.readUInt32LE(0);
      const header = JSON.parse(b.subarray(4, 4 + len).toString('utf8')) as Record<string, unknown>;
      const old = Buffer.from(JSON.stringify({ format: 'vitas-checkpoint-1', meta: header.meta, tensors: header.tensors }), 'utf8');
      const pad = (4 - ((4 + old.length) % 4)) % 4;
      const legacy = Buffer.concat([Buffer.alloc(4), old, Buffer.alloc(pad, 0x20), b.subarray(4 + len)]);
      legacy.writeUInt32LE(old.length + pad, 0);
      const oldPath = join(path, '..', 'old.ckpt');
      writeFileSync(oldPath, legacy);
      let loaded: ReturnType<typeof loadCheckpoint> | undefined;
      const out = stderrOf(() => void (loaded = loadCheckpoint(oldPath)));
      expect(out).to.deep.equal([`vitas: warning: ${oldPath}: checkpoint without a checksum (written before vitas checked them); loaded unverified`]);
      const now = loadCheckpoint(path);
      expect([...loaded!.tensors.keys()]).to.deep.equal([...now.tensors.keys()]);
      for (const [k, t] of now.tensors) expect(Array.from(loaded!.tensors.get(k)!.values)).to.deep.equal(Array.from(t.values));
    });
  });

  describe('the memory guard', () => {
    it('evaluates the fmnist space\'s largest subnet in batches of 200 or more, and a model near the wasm heap\'s limit in small ones', function () {
      if (tf.getBackend() !== 'wasm') this.skip();
      const big = reachableRange(presetSpace('fmnist')).maxSpec;
      expect(evaluationBatch(big, 4e7)).to.be.at.least(200);
      const wide = { ...(JSON.parse(readFileSync(join(ROOT, 'examples/fmnist-deit.json'), 'utf8')) as ArchSpec), embed: 30_000 };
      const b = evaluationBatch(wide, 4 * 30_000 * 4000);
      expect(b).to.be.within(1, 50);
    });

    it('scores a subnet on exactly the first N images, the same whatever the evaluation batch', () => {
      const net = new Supernet(tinySpace, { seed: 4 });
      const ds = syntheticDataset({ count: 40, shape: [8, 8, 1], classes: 4, seed: 9 });
      const spec = tinySpec();
      const scores = [1, 7, 25, 250].map((batch) => evaluateSubnet(net, spec, ds, { batch, limit: 25 }));
      expect(new Set(scores).size).to.equal(1);
      const first25 = { ...ds, count: 25, images: ds.images.subarray(0, 25 * 64), labels: ds.labels.subarray(0, 25) };
      expect(scores[0]).to.equal(evaluateSubnet(net, spec, first25, { batch: 250 }));
      expect(evaluateSubnet(net, spec, ds, { batch: 7 })).to.equal(evaluateSubnet(net, spec, ds, { batch: 40 }));
      net.dispose();
    });

    it('refuses embed 1e5 at --batch 1 up front with one line naming the spec file: it fits at no batch size, and the embed it names does (vitas retrain)', async function () {
      if (tf.getBackend() !== 'wasm') this.skip(); // the heap limit is wasm's
      const dir = mkdtempSync(join(tmpdir(), 'vitas-mem-'));
      mkdirSync(dir, { recursive: true });
      const spec = { ...(JSON.parse(readFileSync(join(ROOT, 'examples/fmnist-deit.json'), 'utf8')) as ArchSpec), embed: 100_000 };
      writeFileSync(join(dir, 'big.json'), JSON.stringify(spec));
      const r = vitas('retrain', join(dir, 'big.json'), '--data', FM, '--validation', '100', '--batch', '1', '--epochs', '1', '--out', join(dir, 'run'));
      expect(r.signal, 'killed at the deadline').to.equal(null);
      expect(r.code, r.err).to.equal(2);
      const line = r.err.trim().split('\n').at(-1)!;
      expect(line.startsWith(`vitas: ${join(dir, 'big.json')}: embed 100000 `), line).to.equal(true);
      const m = /^vitas: .*: embed 100000 does not fit at any batch size: at batch 1 it needs [\d.]+ GB of wasm heap \(weights [\d.]+ GB, their gradients and working copies [\d.]+ GB, activations [\d.]+ GB\), over the [\d.]+ GB a step can use \(4 GB max\); the largest embed that fits at batch 1 is (\d+) \(or use the tfjs-node backend\)$/.exec(line);
      expect(m, line).to.not.equal(null);
      // the advice passes the same check; one more does not
      const e = Number(m![1]);
      await checkMemory({ spec: { ...spec, embed: e } }, 1);
      let err: unknown;
      try {
        await checkMemory({ spec: { ...spec, embed: e + 1 } }, 1);
      } catch (x) {
        err = x;
      }
      expect(err).to.be.instanceOf(VitasError);
    });
  });
});
