import { expect } from 'chai';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { loadData, readIdxPair, readCifar, readImageFolder, splitValidation, epochBatches, orderedBatches, syntheticDataset, Rng, parseIdx, VitasError, type Dataset } from '../src/index.js';
import { fixture } from './helpers.js';

const FM = fixture('fashion-mnist-mini');

describe('data', () => {
  it('reads gzip IDX files of the Fashion-MNIST fixture', () => {
    const ds = readIdxPair(FM, 'train', 'fm', 10, { flip: true });
    expect(ds.count).to.equal(600);
    expect(ds.shape).to.deep.equal([28, 28, 1]);
    expect(ds.labels[0]).to.equal(9); // the first Fashion-MNIST training image is an ankle boot
    const mean = ds.images.reduce((a, v) => a + v, 0) / ds.images.length;
    expect(mean).to.be.closeTo(0, 1e-3);
  });
  it('rejects a file that is not IDX', () => {
    expect(() => parseIdx(new Uint8Array([1, 2, 3, 4, 5]), 'x.idx')).to.throw(VitasError, 'x.idx: not an IDX file');
  });
  it('loads train, validation and test splits, normalised with training statistics', () => {
    const s = loadData({ dataset: 'fashion-mnist', dir: FM, validation: 100 }, { withTest: true });
    expect(s.train.count + s.val.count).to.equal(600);
    expect(s.val.count).to.be.within(95, 105);
    expect(s.test!.count).to.equal(200);
    expect(s.test!.norm).to.deep.equal(s.train.norm);
  });
  it('normalises train, validation and test with the statistics of the training split alone, not of the validation images', () => {
    const s = loadData({ dataset: 'fashion-mnist', dir: FM, validation: 100 }, { withTest: true });
    // the pixels back from the normalised floats, and their statistics as the training file's bytes give them
    const pixels = (d: Dataset): number[] => Array.from(d.images, (x) => Math.round((x * d.norm.std + d.norm.mean) * 255));
    const stats = (px: number[]): { mean: number; std: number } => {
      let sum = 0, sq = 0;
      for (const p of px) {
        sum += p / 255;
        sq += (p / 255) ** 2;
      }
      const mean = sum / px.length;
      return { mean, std: Math.sqrt(sq / px.length - mean * mean) };
    };
    const train = stats(pixels(s.train));
    expect(s.train.norm.mean).to.be.closeTo(train.mean, 1e-12);
    expect(s.train.norm.std).to.be.closeTo(train.std, 1e-12);
    expect(s.val.norm).to.deep.equal(s.train.norm);
    expect(s.test!.norm).to.deep.equal(s.train.norm);
    // train + validation (the whole training file) would give other statistics
    const both = stats([...pixels(s.train), ...pixels(s.val)]);
    expect(readIdxPair(FM, 'train', 'fm', 10, { flip: true }).norm.mean).to.be.closeTo(both.mean, 1e-12);
    expect(Math.abs(both.mean - train.mean)).to.be.above(1e-4);
    expect(Math.abs(both.std - train.std)).to.be.above(1e-5);
  });
  it('says how to get Fashion-MNIST when it is missing', () => {
    expect(() => loadData({ dataset: 'fashion-mnist', dir: '/nonexistent', validation: 10 })).to.throw(VitasError, /apt-get install dataset-fashion-mnist/);
  });
  it('carves a seeded, stratified validation split disjoint from training', () => {
    const ds = syntheticDataset({ count: 200, classes: 4 });
    const a = splitValidation(ds, 40, 1), b = splitValidation(ds, 40, 1), c = splitValidation(ds, 40, 2);
    expect(Array.from(a.val.images.slice(0, 50))).to.deep.equal(Array.from(b.val.images.slice(0, 50)));
    expect(Array.from(a.val.images.slice(0, 50))).to.not.deep.equal(Array.from(c.val.images.slice(0, 50)));
    const counts = [0, 0, 0, 0];
    a.val.labels.forEach((l) => counts[l]!++);
    expect(counts).to.deep.equal([10, 10, 10, 10]);
    expect(a.train.count + a.val.count).to.equal(200);
  });
  it('batches a seeded order with crop augmentation; evaluation batches are in order and untouched', () => {
    const ds = readIdxPair(FM, 't10k', 'fm', 10, { flip: true });
    const one = [...epochBatches(ds, 64, new Rng(1), { crop: 2, flip: true })];
    const two = [...epochBatches(ds, 64, new Rng(1), { crop: 2, flip: true })];
    expect(one.length).to.equal(3); // 200 images, last partial batch dropped
    expect(Array.from(one[0]!.y)).to.deep.equal(Array.from(two[0]!.y));
    expect(Array.from(one[0]!.x.slice(0, 100))).to.deep.equal(Array.from(two[0]!.x.slice(0, 100)));
    // another seed, another order
    expect(Array.from([...epochBatches(ds, 64, new Rng(2), { crop: 2, flip: true })][0]!.y)).to.not.deep.equal(Array.from(one[0]!.y));
    // each augmented image is a source image of its class shifted by at most 2 pixels each way (black
    // padding), perhaps mirrored; and the crops do move images
    const pad = Math.fround(-ds.norm.mean / ds.norm.std); // stored as float32
    const transformed = (i: number, dy: number, dx: number, flip: boolean, dst: Float32Array): boolean => {
      for (let r = 0; r < 28; r++) {
        for (let c = 0; c < 28; c++) {
          const sr = r + dy, sc = c + dx;
          const want = sr >= 0 && sr < 28 && sc >= 0 && sc < 28 ? ds.images[i * 784 + sr * 28 + (flip ? 27 - sc : sc)]! : pad;
          if (dst[r * 28 + c] !== want) return false;
        }
      }
      return true;
    };
    let moved = 0;
    for (let k = 0; k < 8; k++) {
      const dst = one[0]!.x.subarray(k * 784, (k + 1) * 784);
      const found = [...Array(ds.count).keys()].filter((i) => ds.labels[i] === one[0]!.y[k]).flatMap((i) =>
        [false, true].flatMap((flip) => [-2, -1, 0, 1, 2].flatMap((dy) => [-2, -1, 0, 1, 2].filter((dx) => transformed(i, dy, dx, flip, dst)).map((dx) => ({ dy, dx })))));
      expect(found, `image ${k}`).to.not.be.empty;
      if (!found.some((f) => f.dy === 0 && f.dx === 0)) moved++;
    }
    expect(moved).to.be.greaterThan(0);
    const ordered = [...orderedBatches(ds, 64)];
    expect(ordered.map((b) => b.size)).to.deep.equal([64, 64, 64, 8]);
    expect(Array.from(ordered[0]!.x.slice(0, 784))).to.deep.equal(Array.from(ds.images.slice(0, 784)));
  });
  it('never flips where a flip would change the class', () => {
    const ds = { ...syntheticDataset({ count: 8, classes: 2 }), flip: false };
    const b = [...epochBatches(ds, 8, new Rng(3), { crop: 0, flip: true })][0]!;
    const byLabel = (i: number): Float32Array => ds.images.subarray(i * 784, (i + 1) * 784);
    for (let k = 0; k < 8; k++) {
      const match = [...Array(8).keys()].some((i) => byLabel(i).every((v, j) => v === b.x[k * 784 + j]));
      expect(match).to.equal(true);
    }
  });
  it('reads the CIFAR binary format (CHW records → HWC)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitas-cifar-'));
    const rec = new Uint8Array(2 * 3073);
    rec[0] = 3;
    rec[1 + 0] = 255; // red of pixel 0
    rec[1 + 1024 + 1] = 255; // green of pixel 1
    rec[3073] = 7;
    writeFileSync(join(dir, 'b.bin'), rec);
    const ds = readCifar([join(dir, 'b.bin')], { variant: 10, norm: { mean: 0, std: 1 } });
    expect(Array.from(ds.labels)).to.deep.equal([3, 7]);
    expect(ds.images[0]).to.equal(1);
    expect(ds.images[3 + 1]).to.equal(1);
    expect(() => readCifar([join(dir, 'b.bin')], { variant: 100 })).to.throw(VitasError, /not a multiple of the CIFAR-100 record/);
  });
  it('reads an image folder of PNG and JPEG files, one sub-folder per class, resized', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitas-folder-'));
    for (const [cls, value] of [['cats', 200], ['dogs', 20]] as const) {
      mkdirSync(join(dir, cls));
      const png = new PNG({ width: 16, height: 12 });
      png.data.fill(value);
      for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
      writeFileSync(join(dir, cls, 'a.png'), PNG.sync.write(png));
      const raw = Buffer.alloc(10 * 10 * 4, value);
      writeFileSync(join(dir, cls, 'b.jpg'), jpeg.encode({ data: raw, width: 10, height: 10 }, 95).data);
    }
    const ds = readImageFolder(dir, { size: [8, 8], channels: 3, norm: { mean: 0, std: 1 } });
    expect(ds.count).to.equal(4);
    expect(ds.shape).to.deep.equal([8, 8, 3]);
    expect(ds.classNames).to.deep.equal(['cats', 'dogs']);
    expect(ds.images[0]).to.be.closeTo(200 / 255, 0.01);
    expect(ds.images[2 * 192]).to.be.closeTo(20 / 255, 0.03);
  });
});
