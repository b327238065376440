import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend, validateSpace, validateSpec, presetSpace, costOf, costReport, paramList, buildModel, extractSubnet, countMacs, blkOf, tracedParamNames,
  Supernet, MaskedAdamW, trainStep, DataParallelStep, standaloneStep, trainSupernet, loadSupernet, saveModel, loadModel, SupernetEvaluator, ProxyEvaluator,
  recalibrate, calibrationImages, batchNormLayers, addStats, combineStats, batchMoments, localPatchInteraction, geluOps, syntheticDataset, splitValidation,
  Rng, LPI_MACS_PER_TOKEN, netOf, type ArchSpec, type AttnBlock, type LayerStats, type Dataset, type ParamSource, type Slicing,
} from '../src/index.js';
import { lpiBranch } from '../src/supernet/operators/lpi.js';
import { checkGradients, maxDiff, randn } from './fn-helpers.js';
import { expectGradientsMatchFiniteDifferences } from './supernet-checks.js';

/** Every choice that changes how LPI sits in the network: stems, position encodings, readouts, mixers, recursion. */
const space = validateSpace({
  name: 'tiny-lpi',
  input: [8, 8, 1],
  classes: 4,
  patch: [2, 4],
  stem: ['linear', 'conv'],
  pos: ['learned', 'rope', 'none'],
  readout: ['cls', 'mean'],
  embed: [8, 16],
  blocks: 2,
  depth: { min: 1, max: 2 },
  identity: 'anywhere',
  attention: ['softmax', 'xnorm', 'mixer'],
  heads: [1, 2],
  qkv: [24, 48],
  mlp: [8, 16],
  recursion: [1, 2],
  groups: [1],
  tokenMlp: [8, 12],
  lpi: [false, true],
});

function lpiSpec(o: Partial<ArchSpec> = {}, b: Partial<AttnBlock> = {}): ArchSpec {
  return validateSpec({
    version: 1, input: [8, 8, 1], classes: 4, patch: 2, stem: 'linear', embed: 8, pos: 'learned', readout: 'cls',
    blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 24, mlp: 8, lpi: true, ...b }, { op: 'attn', attention: 'softmax', heads: 1, qkv: 24, mlp: 16 }],
    ...o,
  });
}

const VARIANTS: Record<string, ArchSpec> = {
  'linear stem, learned pos': lpiSpec(),
  'conv stem': lpiSpec({ stem: 'conv', patch: 4 }),
  rope: lpiSpec({ pos: 'rope' }),
  'mean readout (no class token)': lpiSpec({ readout: 'mean' }),
  'recursion 2 (one BatchNorm run twice)': lpiSpec({}, { recursion: 2 }),
  'xnorm mixer at the widest embed': lpiSpec({ embed: 16 }, { attention: 'xnorm' }),
  'mixer (token MLP)': lpiSpec({}, { attention: 'mixer', heads: 1, qkv: 0, tokenMlp: 8 }),
};

const images = (n: number, seed: number): tf.Tensor4D => tf.randomNormal([n, 8, 8, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
const values = (t: tf.Tensor): Float32Array => t.dataSync().slice() as Float32Array;
const passesWithLpi = (spec: ArchSpec): number => spec.blocks.reduce((a, b) => a + (b.op === 'attn' && b.lpi ? (b.recursion ?? 1) : 0), 0);
const withoutLpi = (spec: ArchSpec): ArchSpec => ({ ...spec, blocks: spec.blocks.map((b) => (b.op === 'attn' ? { ...b, lpi: false } : b)) });

/** Batch statistics of every BatchNorm layer of one forward of `spec` on `x` (batch mode, left slices). */
function forwardStats(net: Supernet, spec: ArchSpec, x: tf.Tensor4D, slicing: Slicing = 'left'): LayerStats[] {
  const log: LayerStats[] = [];
  tf.tidy(() => void net.forward(x, spec, slicing, undefined, undefined, (side, layer, s) => addStats(log, 0, side, layer, s)));
  return log;
}

/** The stored running statistics of `layer` on `spec`'s left slice. */
function stored(net: Supernet, spec: ArchSpec, layer: string, which: 'mean' | 'var', side: 'left' | 'right' = 'left'): Float32Array {
  const e = paramList(spec).find((p) => p.name === `${layer}.${which}`)!;
  const { param, region } = net.resolve(e, spec, side);
  return tf.tidy(() => values(tf.slice(param.v, region.begin, region.size)));
}

function snapshot(m: Map<string, { v: tf.Variable }>): Map<string, Float32Array> {
  return new Map([...m].map(([k, p]) => [k, values(p.v)]));
}

/** Sets every running statistic of `net` to seeded random values (variances positive), so evaluation mode is not the identity. */
function scrambleRunning(net: Supernet, seed: number): void {
  const rng = new Rng(seed);
  for (const [k, p] of net.running) {
    const a = Float32Array.from({ length: p.v.size }, () => (k.endsWith('.var') ? 0.5 + rng.next() : rng.normal()));
    p.v.assign(tf.tensor(a, p.v.shape));
  }
}

/**
 * Depthwise kernels of a trained size (std 0.3) instead of the init's 0.02: the LPI branch then
 * moves the logits visibly, so the checks below see it (and its BatchNorm) at work.
 */
function boostLpi(vars: Iterable<[string, tf.Variable]>, seed: number): void {
  for (const [k, v] of vars) if (/\.lpi\.conv\d\.w$/.test(k)) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', seed));
}
const variables = (m: Map<string, { v: tf.Variable }>): [string, tf.Variable][] => [...m].map(([k, p]) => [k, p.v]);

function dataset(count: number, seed: number): Dataset {
  return syntheticDataset({ count, shape: [8, 8, 1], classes: 4, seed });
}

describe('LPI (XCiT local patch interaction) and BatchNorm in the supernet', function () {
  this.timeout(600_000);
  before(async () => {
    await initBackend();
  });

  describe('localPatchInteraction (src/supernet/fn/lpi.ts)', () => {
    const [b, h, w, c] = [2, 4, 3, 5];
    const inputs = (): tf.Tensor[] => [randn([b, h, w, c], 1), randn([9, c], 2, 0.5), randn([c], 3, 0.1), tf.add(randn([c], 4, 0.3), 1), randn([c], 5, 0.1), randn([9, c], 6, 0.5), randn([c], 7, 0.1)];
    /** seeded running statistics, variances in [0.5, 0.8] */
    const runningStats = (): { mean: tf.Tensor1D; variance: tf.Tensor1D } => ({ mean: randn([c], 8, 0.1) as tf.Tensor1D, variance: tf.add(tf.abs(randn([c], 9, 0.1)), 0.5) as tf.Tensor1D });
    const run = (mode: 'batch' | 'running') =>
      (x: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor, g: tf.Tensor, be: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor): tf.Tensor =>
        localPatchInteraction(x as tf.Tensor4D, { conv1: { w: w1 as tf.Tensor2D, b: b1 as tf.Tensor1D }, conv2: { w: w2 as tf.Tensor2D, b: b2 as tf.Tensor1D }, bn: { gamma: g as tf.Tensor1D, beta: be as tf.Tensor1D }, running: runningStats }, mode);

    it('equals tf.depthwiseConv2d → GELU → tf.batchNorm → tf.depthwiseConv2d, by batch or by running statistics', () => {
      tf.tidy(() => {
        const [x, w1, b1, g, be, w2, b2] = inputs() as [tf.Tensor4D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D];
        const dw = (t: tf.Tensor4D, k: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor4D => tf.add(tf.depthwiseConv2d(t, tf.reshape(k, [3, 3, c, 1]) as tf.Tensor4D, 1, 'same'), bias);
        const a = geluOps(dw(x, w1, b1)) as tf.Tensor4D;
        const running = runningStats();
        const m = tf.moments(a, [0, 1, 2]);
        for (const [mode, mean, variance] of [['batch', m.mean, m.variance], ['running', running.mean, running.variance]] as const) {
          const ref = dw(tf.batchNorm(a, mean, variance, be, g, 1e-5) as tf.Tensor4D, w2, b2);
          expect(maxDiff(run(mode)(x, w1, b1, g, be, w2, b2).dataSync(), ref.dataSync()), mode).to.be.below(1e-5);
        }
      });
    });

    for (const mode of ['batch', 'running'] as const)
      it(`has a backward that matches finite differences in every input (${mode} statistics)`, () => {
        const xs = inputs();
        // a small step: BatchNorm over 24 rows curves sharply (at h = 1e-2 the truncation error alone is 2 %)
        checkGradients(run(mode), xs, 21, 2e-3);
        tf.dispose(xs);
      });
  });

  it('pools the statistics of two row sets exactly (combineStats = the moments of their union)', () => {
    tf.tidy(() => {
      const a = randn([7, 3], 31), b = tf.add(randn([12, 3], 32, 2), 1.5);
      const stats = (t: tf.Tensor): { count: number; mean: Float32Array; variance: Float32Array } => {
        const m = batchMoments(t as tf.Tensor2D);
        return { count: t.shape[0]!, mean: values(m.mean), variance: values(m.variance) };
      };
      const pooled = combineStats(stats(a), stats(b));
      const all = stats(tf.concat([a, b], 0));
      expect(pooled.count).to.equal(19);
      expect(maxDiff(pooled.mean, all.mean)).to.be.below(1e-6);
      expect(maxDiff(pooled.variance, all.variance)).to.be.below(1e-5);
    });
  });

  it('leaves the class token alone: its branch row is zero and the patch rows do not depend on it', () => {
    const spec = lpiSpec();
    const model = buildModel(spec, 2);
    tf.tidy(() => {
      const net = netOf(spec);
      const ps: ParamSource = { get: (n) => model.weights.get(n)! };
      const ctx = { B: 2, T: net.T, E: net.E, P: net.P, cls: 1, gh: net.gh, gw: net.gw, rope: false, k: blkOf(spec.blocks[0] as AttnBlock, 0), block: 0, pass: 0, groups: 1, ps, streams: {} };
      const x = randn([2 * net.T, net.E], 41) as tf.Tensor2D;
      const other = tf.reshape(tf.concat([randn([2, 1, net.E], 42), tf.slice(tf.reshape(x, [2, net.T, net.E]), [0, 1, 0], [2, net.P, net.E])], 1), [2 * net.T, net.E]) as tf.Tensor2D;
      const y = tf.reshape(lpiBranch(x, ctx, 'batch'), [2, net.T, net.E]);
      const y2 = tf.reshape(lpiBranch(other, ctx, 'batch'), [2, net.T, net.E]);
      expect(tf.max(tf.abs(tf.slice(y, [0, 0, 0], [2, 1, net.E]))).dataSync()[0]).to.equal(0);
      expect(tf.max(tf.abs(tf.slice(y, [0, 1, 0], [2, net.P, net.E]))).dataSync()[0]).to.be.greaterThan(0);
      expect(maxDiff(y.dataSync(), y2.dataSync())).to.equal(0);
    });
    model.dispose();
  });

  describe('inside the supernet and standalone', () => {
    let net: Supernet;
    before(() => {
      net = new Supernet(space, { seed: 7 });
      scrambleRunning(net, 1);
      boostLpi(variables(net.params), 2);
    });
    after(() => net.dispose());

    for (const [label, spec] of Object.entries(VARIANTS)) {
      it(`${label}: states the parameters the built model holds (24·E per LPI block; running statistics held, not counted)`, () => {
        const model = buildModel(spec, 1);
        expect(model.paramCount()).to.equal(costOf(spec).params);
        expect(costOf(spec).params - costOf(withoutLpi(spec)).params).to.equal(24 * spec.embed);
        expect(model.weights.get('blocks.0.lpi.bn.mean')!.shape).to.deep.equal([spec.embed]);
        expect(model.trainable('blocks.0.lpi.bn.var')).to.equal(false);
        model.dispose();
      });

      it(`${label}: its forward asks for exactly the declared parameters (in evaluation: the running statistics too)`, () => {
        const list = paramList(spec);
        expect(tracedParamNames(spec, new Map(list.map((e) => [e.name, e.shape]))).sort()).to.deep.equal(list.map((e) => e.name).sort());
      });

      it(`${label}: states the MACs its forward runs: the product kernels count all but the two depthwise convs, 18·P·E per pass`, () => {
        const model = buildModel(spec, 1);
        const x = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
        const counted = countMacs(() => void tf.tidy(() => model.forward(x))).macs;
        const dw = passesWithLpi(spec) * LPI_MACS_PER_TOKEN * netOf(spec).P * spec.embed;
        expect(counted + dw).to.equal(costOf(spec, 'macs').macs);
        for (const convention of ['macs', 'vitas'] as const) {
          const row = costReport(spec, convention).layers.find((l) => l.layer.startsWith('blocks.0') && l.layer.endsWith('lpi'))!;
          expect(row.macs, convention).to.equal(18 * netOf(spec).P * spec.embed);
        }
        x.dispose();
        model.dispose();
      });

      it(`${label}: the supernet forward equals the extracted standalone model within 1e-5, by running and by batch statistics`, () => {
        const model = extractSubnet(net, spec);
        tf.tidy(() => {
          const x = images(3, 11);
          for (const mode of ['running', 'batch'] as const) {
            const diff = tf.max(tf.abs(tf.sub(net.forward(x, spec, 'left', undefined, undefined, mode), model.forward(x, { norm: mode })))).dataSync()[0]!;
            expect(diff, mode).to.be.below(1e-5);
          }
          // the running statistics are in use: evaluation differs from batch statistics
          expect(maxDiff(net.forward(x, spec).dataSync(), net.forward(x, spec, 'left', undefined, undefined, 'batch').dataSync())).to.be.greaterThan(1e-4);
        });
        model.dispose();
      });

      it(`${label}: a training step changes exactly the used slices; the running statistics move 0.1 of the way to the batch's`, () => {
        const weights = snapshot(net.params);
        const running = snapshot(net.running);
        const x = images(3, 12), y = tf.tensor1d([0, 1, 2], 'int32');
        const batch = forwardStats(net, spec, x);
        const usage = net.usage([spec], 'left');
        const layers = batchNormLayers(spec);
        expect(batch.map((e) => e.layer)).to.deep.equal(layers);
        // a recursive block's BatchNorm pools both passes' rows
        expect(batch[0]!.count).to.equal(3 * netOf(spec).P * ((spec.blocks[0] as AttnBlock).recursion ?? 1));
        const expected = new Map(layers.flatMap((l, i) => (['mean', 'var'] as const).map((w) => {
          const old = stored(net, spec, l, w);
          const b = w === 'mean' ? batch[i]!.mean : batch[i]!.variance;
          return [`${l}.${w}`, old.map((o, j) => 0.9 * o + 0.1 * b[j]!)] as const;
        })));
        trainStep(net, new MaskedAdamW(), x, y, [spec], 1e-2, { slicing: 'left', labelSmoothing: 0.1 });
        for (const [key, p] of net.params) {
          const a = weights.get(key)!, now = p.v.dataSync();
          const regions = usage.get(key) ?? [];
          const cols = p.v.shape[1] ?? 1;
          let moved = 0;
          for (let i = 0; i < a.length; i++) {
            const idx = p.v.shape.length === 1 ? [i] : [Math.floor(i / cols), i % cols];
            const inside = regions.some((r) => idx.every((v, d) => v >= r.begin[d]! && v < r.begin[d]! + r.size[d]!));
            if (!inside) expect(now[i], `${key}[${idx}] outside the subnet's slices`).to.equal(a[i]);
            else if (now[i] !== a[i]) moved++;
          }
          if (regions.length) expect(moved, `${key} is used but did not move`).to.be.greaterThan(0);
        }
        for (const l of layers) for (const w of ['mean', 'var'] as const) expect(maxDiff(stored(net, spec, l, w), expected.get(`${l}.${w}`)!), `${l}.${w}`).to.be.below(1e-6);
        // running statistics outside the subnet's BatchNorm slices stay
        for (const [key, p] of net.running) {
          const a = running.get(key)!, now = p.v.dataSync();
          const used = layers.some((l) => key.startsWith(`${l}.`)) ? spec.embed : 0;
          for (let i = used; i < a.length; i++) expect(now[i], `${key}[${i}]`).to.equal(a[i]);
        }
        // the LPI weights are among those trained
        expect([...usage.keys()].filter((k) => k.startsWith('blocks.0.lpi.')).sort()).to.deep.equal(['blocks.0.lpi.bn.beta', 'blocks.0.lpi.bn.gamma', 'blocks.0.lpi.conv1.b', 'blocks.0.lpi.conv1.w', 'blocks.0.lpi.conv2.b', 'blocks.0.lpi.conv2.w', 'blocks.0.lpi.norm.beta', 'blocks.0.lpi.norm.gamma']);
        x.dispose(); y.dispose();
        for (const [k, p] of net.params) p.v.assign(tf.tensor(weights.get(k)!, p.v.shape));
        for (const [k, p] of net.running) p.v.assign(tf.tensor(running.get(k)!, p.v.shape));
      });

      it(`${label}: forward and backward match finite differences on the default backend (training: batch statistics)`, () => {
        const model = buildModel(spec, 3);
        boostLpi(model.weights, 4);
        const x = images(3, 13);
        const r = tf.randomNormal([3, 4], 0, 1, 'float32', 5);
        const loss = (): tf.Scalar => tf.sum(tf.mul(model.forward(x, { norm: 'batch' }), r)) as tf.Scalar;
        const names = model.trainableWeights().map(([n]) => n).filter((n) => n.startsWith('blocks.0.lpi.') || n === 'blocks.0.norm1.gamma' || n === 'patch_embed.w');
        // one check per weight, so each weight's count is known (the check skips entries whose |gradient| < 1e-3)
        const checked = new Map(names.map((n) => [n, expectGradientsMatchFiniteDifferences(loss, model.weights, [n])]));
        // both entries of the patch embedding, both LPI convs' kernels, conv2's bias and the two betas: ≥ 1.2e-3 in every variant
        for (const n of ['patch_embed.w', 'blocks.0.lpi.norm.beta', 'blocks.0.lpi.conv1.w', 'blocks.0.lpi.bn.beta', 'blocks.0.lpi.conv2.w', 'blocks.0.lpi.conv2.b']) expect(checked.get(n), `entries of ${n} checked`).to.equal(2);
        // and one per weight overall (of at most 2; 15–18 of 20 here): the gammas and conv1's bias (which BatchNorm nearly
        // cancels) have gradients near the 1e-3 cut at this init, so some of their entries fall below it
        expect([...checked.values()].reduce((a, c) => a + c, 0), 'entries checked').to.be.at.least(names.length);
        x.dispose(); r.dispose(); model.dispose();
      });
    }
  });

  describe('recalibrate', () => {
    const spec = lpiSpec();
    let net: Supernet;
    beforeEach(() => {
      net = new Supernet(space, { seed: 9 });
      scrambleRunning(net, 2);
    });
    afterEach(() => net.dispose());

    it("sets the stored statistics to the subnet's batch statistics on those images", () => {
      const data = dataset(40, 3);
      recalibrate(net, spec, data);
      const x = tf.tensor4d(data.images, [40, 8, 8, 1]);
      const batch = forwardStats(net, spec, x);
      x.dispose();
      expect(batch.length).to.equal(1);
      expect(maxDiff(stored(net, spec, 'blocks.0.lpi.bn', 'mean'), batch[0]!.mean)).to.be.below(1e-6);
      expect(maxDiff(stored(net, spec, 'blocks.0.lpi.bn', 'var'), batch[0]!.variance)).to.be.below(1e-6);
    });

    it('pools the chunks of a larger sample exactly, each chunk run with its own batch statistics', () => {
      const data = dataset(40, 4);
      recalibrate(net, spec, data, { batch: 16 });
      const log: LayerStats[] = [];
      for (const [s, n] of [[0, 16], [16, 16], [32, 8]] as const) {
        const x = tf.tensor4d(data.images.subarray(s * 64, (s + n) * 64), [n, 8, 8, 1]);
        for (const e of forwardStats(net, spec, x)) addStats(log, 0, 'left', e.layer, e);
        x.dispose();
      }
      expect(log[0]!.count).to.equal(40 * 16);
      expect(maxDiff(stored(net, spec, 'blocks.0.lpi.bn', 'mean'), log[0]!.mean)).to.be.below(1e-6);
      expect(maxDiff(stored(net, spec, 'blocks.0.lpi.bn', 'var'), log[0]!.variance)).to.be.below(1e-6);
    });

    it('touches exactly the BatchNorm layers and channels the spec uses, and no weight', () => {
      const weights = snapshot(net.params);
      const running = snapshot(net.running);
      recalibrate(net, spec, dataset(20, 5));
      for (const [k, p] of net.params) expect(maxDiff(p.v.dataSync(), weights.get(k)!), k).to.equal(0);
      for (const [k, p] of net.running) {
        const a = running.get(k)!, now = p.v.dataSync();
        const used = k.startsWith('blocks.0.lpi.bn.') ? spec.embed : 0; // block 1 of the spec has no LPI
        for (let i = 0; i < a.length; i++) {
          if (i < used) expect(now[i], `${k}[${i}]`).to.not.equal(a[i]);
          else expect(now[i], `${k}[${i}]`).to.equal(a[i]);
        }
      }
    });

    it('recalibrates the right slices too under two-sided slicing', () => {
      const data = dataset(20, 6);
      recalibrate(net, spec, data, { slicing: 'two-sided' });
      const x = tf.tensor4d(data.images, [20, 8, 8, 1]);
      const batch = forwardStats(net, spec, x, 'two-sided');
      x.dispose();
      const right = batch.find((e) => e.side === 'right')!;
      expect(maxDiff(stored(net, spec, 'blocks.0.lpi.bn', 'mean', 'right'), right.mean)).to.be.below(1e-6);
      expect(maxDiff(stored(net, spec, 'blocks.0.lpi.bn', 'mean', 'left'), batch.find((e) => e.side === 'left')!.mean)).to.be.below(1e-6);
    });

    it('runs nothing for a spec without BatchNorm', () => {
      const running = snapshot(net.running);
      recalibrate(net, withoutLpi(spec), dataset(20, 7));
      for (const [k, p] of net.running) expect(maxDiff(p.v.dataSync(), running.get(k)!), k).to.equal(0);
    });

    it('is what extractSubnet does first when given calibration images', () => {
      const data = dataset(30, 8);
      const model = extractSubnet(net, spec, 'left', data);
      const x = tf.tensor4d(data.images, [30, 8, 8, 1]);
      const batch = forwardStats(net, spec, x);
      x.dispose();
      expect(maxDiff(values(model.weights.get('blocks.0.lpi.bn.mean')!), batch[0]!.mean)).to.be.below(1e-6);
      expect(maxDiff(values(model.weights.get('blocks.0.lpi.bn.var')!), batch[0]!.variance)).to.be.below(1e-6);
      model.dispose();
    });
  });

  it('draws a seeded sample of the training images to calibrate on (500 by default)', () => {
    const train = dataset(700, 9);
    const a = calibrationImages(train), b = calibrationImages(train), c = calibrationImages(train, 500, 1);
    expect(a.count).to.equal(500);
    expect(maxDiff(a.images, b.images)).to.equal(0);
    expect(maxDiff(a.images, c.images)).to.be.greaterThan(0);
    expect(calibrationImages(train, 1000).count).to.equal(700);
    // every sampled image is one of the training images
    const rows = new Set(Array.from({ length: train.count }, (_, i) => train.images.subarray(i * 64, (i + 1) * 64).join()));
    for (let i = 0; i < a.count; i += 50) expect(rows.has(a.images.subarray(i * 64, (i + 1) * 64).join())).to.equal(true);
  });

  it("scores a subnet differently with recalibration than without on a briefly trained supernet (the supernet evaluator)", async () => {
    const data = splitValidation(dataset(480, 10), 160, 0);
    const lpiOnly = validateSpace({ ...space, name: 'tiny-lpi-only', stem: ['linear'], pos: ['learned'], readout: ['cls'], attention: ['softmax'], recursion: [1], lpi: [true] });
    // per-pixel class templates: no random crops (they would shift the template away)
    const { supernet } = await trainSupernet({ space: lpiOnly, data, recipe: { epochs: 3, batch: 32, lr: 5e-3, warmupEpochs: 0, augment: { crop: 0, flip: false }, sampling: 'uniform', seed: 1 }, threads: 1 });
    const specs = [lpiSpec(), lpiSpec({ embed: 16, patch: 4 }, { heads: 1, qkv: 48, mlp: 16 })].map((s) => ({ ...s, blocks: s.blocks.map((b) => ({ ...b, lpi: true })) }));
    const plain = await new SupernetEvaluator(supernet, data.val).evaluate(specs);
    const calibrated = await new SupernetEvaluator(supernet, data.val, { calibration: calibrationImages(data.train) }).evaluate(specs);
    expect(calibrated).to.not.deep.equal(plain);
    // and recalibrating again gives the same score (seeded sample, no weight changed)
    expect(await new SupernetEvaluator(supernet, data.val, { calibration: calibrationImages(data.train) }).evaluate(specs)).to.deep.equal(calibrated);
    supernet.dispose();
  });

  it('moves the running statistics towards the whole batch pooled over the shards of a data-parallel step', async () => {
    const net = new Supernet(space, { seed: 5 });
    const parallel = new DataParallelStep(net, 2);
    const spec = lpiSpec();
    try {
      const x = images(7, 14);
      const batch = { x: values(x), y: new Int32Array([0, 1, 2, 3, 0, 1, 2]), size: 7 };
      const log: LayerStats[] = [];
      // shards of 4 and 3 images, each normalised by its own statistics
      for (const [s, n] of [[0, 4], [4, 3]] as const) {
        const shard = tf.slice(x, [s, 0, 0, 0], [n, 8, 8, 1]);
        for (const e of forwardStats(net, spec, shard)) addStats(log, 0, 'left', e.layer, e);
        shard.dispose();
      }
      const before = stored(net, spec, 'blocks.0.lpi.bn', 'var');
      await parallel.step(new MaskedAdamW(), batch, [spec], 1e-2, { slicing: 'left', labelSmoothing: 0.1 });
      expect(maxDiff(stored(net, spec, 'blocks.0.lpi.bn', 'var'), before.map((v, j) => 0.9 * v + 0.1 * log[0]!.variance[j]!))).to.be.below(1e-6);
      x.dispose();
    } finally {
      await parallel.dispose();
      net.dispose();
    }
  });

  it('trains a standalone model on batch statistics, its running statistics following with momentum 0.1, and evaluates with them', () => {
    const spec = lpiSpec();
    const model = buildModel(spec, 4);
    const x = images(6, 15), y = tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32');
    const log: LayerStats[] = [];
    tf.tidy(() => void model.forward(x, { norm: (layer, s) => addStats(log, 0, 'left', layer, s) }));
    const before = values(model.weights.get('blocks.0.lpi.bn.mean')!);
    standaloneStep(model, new MaskedAdamW(), x, y, 1e-3, { labelSmoothing: 0.1, dropPath: 0 }, new Rng(1));
    expect(maxDiff(values(model.weights.get('blocks.0.lpi.bn.mean')!), before.map((v, j) => 0.9 * v + 0.1 * log[0]!.mean[j]!))).to.be.below(1e-6);
    // evaluation reads them: other running statistics, other logits
    const a = tf.tidy(() => values(model.forward(x)));
    model.weights.get('blocks.0.lpi.bn.mean')!.assign(tf.fill([8], 0.5));
    expect(maxDiff(tf.tidy(() => values(model.forward(x))), a)).to.be.greaterThan(1e-4);
    x.dispose(); y.dispose(); model.dispose();
  });

  it('keeps the running statistics in supernet checkpoints and in saved models', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitas-lpi-'));
    try {
      const data = splitValidation(dataset(80, 11), 16, 0);
      const lpiOnly = validateSpace({ ...space, name: 'tiny-lpi-ckpt', lpi: [true] });
      const { supernet } = await trainSupernet({ space: lpiOnly, data, recipe: { epochs: 1, batch: 16, sampling: 'uniform', seed: 2 }, out: dir, threads: 1 });
      const loaded = loadSupernet(lpiOnly, join(dir, 'supernet.ckpt'));
      expect([...loaded.running.keys()]).to.deep.equal([...supernet.running.keys()]);
      for (const [k, p] of supernet.running) expect(maxDiff(loaded.running.get(k)!.v.dataSync(), p.v.dataSync()), k).to.equal(0);
      // and they are trained values, not the initial zeros and ones
      expect([...supernet.running].some(([k, p]) => maxDiff(p.v.dataSync(), new Float32Array(p.v.size).fill(k.endsWith('.var') ? 1 : 0)) > 0)).to.equal(true);
      const model = extractSubnet(loaded, lpiSpec());
      model.weights.get('blocks.0.lpi.bn.var')!.assign(tf.fill([8], 2.5));
      saveModel(join(dir, 'model'), model, { generatedBy: 'test' });
      const back = loadModel(join(dir, 'model')).model;
      expect(values(back.weights.get('blocks.0.lpi.bn.var')!)).to.deep.equal(new Float32Array(8).fill(2.5));
      expect(maxDiff(values(back.weights.get('blocks.0.lpi.bn.mean')!), values(model.weights.get('blocks.0.lpi.bn.mean')!))).to.equal(0);
      [supernet, loaded, model, back].forEach((m) => m.dispose());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('scores with batch statistics in the training-free proxy: it never reads running statistics, and LPI changes the score', () => {
    const spec = lpiSpec();
    const proxy = new ProxyEvaluator(space, { seed: 3 });
    // the supernet the proxy slices its weights from (a private field: no accessor in src)
    const net = (proxy as unknown as { net: Supernet }).net;
    const a = proxy.score(spec);
    expect(Number.isFinite(a)).to.equal(true);
    // every running statistic NaN: a forward that read one would be NaN (as the running-statistics forward now is)
    expect(net.running.has('blocks.0.lpi.bn.mean')).to.equal(true);
    for (const p of net.running.values()) p.v.assign(tf.fill(p.v.shape, NaN));
    const x = images(2, 16);
    expect(tf.tidy(() => [...net.forward(x, spec).dataSync()].every(Number.isNaN))).to.equal(true);
    x.dispose();
    // score() is not cached (evaluate() is): this is a second scoring, on the same batch and weights
    expect(proxy.score(spec)).to.equal(a);
    expect(a).to.not.equal(proxy.score(withoutLpi(spec)));
    proxy.dispose();
  });

  it('leaks no tensor over many training steps, recalibrations and standalone steps', () => {
    const net = new Supernet(space, { seed: 6 });
    const [opt, modelOpt] = [new MaskedAdamW(), new MaskedAdamW()];
    const x = images(4, 17), y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const specs = Object.values(VARIANTS);
    const model = buildModel(specs[0]!, 1);
    const data = dataset(20, 12);
    const round = (i: number): void => {
      trainStep(net, opt, x, y, [specs[i % specs.length]!], 1e-3, { slicing: i % 2 ? 'left' : 'two-sided', labelSmoothing: 0.1 });
      recalibrate(net, specs[(i + 1) % specs.length]!, data);
      standaloneStep(model, modelOpt, x, y, 1e-3, { labelSmoothing: 0.1, dropPath: 0.1 }, new Rng(i));
    };
    for (let i = 0; i < specs.length; i++) round(i); // moments allocated, constants cached
    const start = tf.memory().numTensors;
    for (let i = 0; i < 40; i++) round(i);
    expect(tf.memory().numTensors).to.equal(start);
    x.dispose(); y.dispose(); opt.dispose(); modelOpt.dispose(); model.dispose(); net.dispose();
  });

  it('runs forward and backward on the wasm backend, which has no depthwise-conv backprop kernel', async () => {
    const previous = tf.getBackend();
    await initBackend('wasm');
    try {
      expect(tf.getBackend()).to.equal('wasm');
      const net = new Supernet(space, { seed: 8 });
      const spec = lpiSpec();
      const before = values(net.params.get('blocks.0.lpi.conv1.w')!.v);
      const x = images(3, 18), y = tf.tensor1d([0, 1, 2], 'int32');
      const loss = trainStep(net, new MaskedAdamW(), x, y, [spec], 1e-2, { slicing: 'left', labelSmoothing: 0.1 });
      expect(Number.isFinite(loss)).to.equal(true);
      expect(maxDiff(values(net.params.get('blocks.0.lpi.conv1.w')!.v), before)).to.be.greaterThan(0);
      x.dispose(); y.dispose(); net.dispose();
    } finally {
      if (previous !== 'wasm') await initBackend(previous);
    }
  });

  it('is a search choice of fmnist-x, and a bad lpi value is a one-line spec error', () => {
    expect(presetSpace('fmnist-x').lpi).to.deep.equal([false, true]);
    expect(() => validateSpec({ ...lpiSpec(), blocks: [{ op: 'attn', attention: 'softmax', heads: 1, qkv: 24, mlp: 8, lpi: 'yes' }] }, 'arch.json')).to.throw(/^arch\.json: blocks\[0\]\.lpi: "yes" must be boolean$/);
  });
});
