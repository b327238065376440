import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend, costOf, costReport, paramList, buildModel, extractSubnet, smoothedCrossEntropy, countMacs, Supernet, MaskedAdamW, trainStep, validateSpec, validateSpace,
  sampleSpec, mutate, crossover, contains, encode, decode, reachableRange, presetSpace, Rng, VitasError, loadSpec, tracedParamNames,
  ProxyEvaluator, CostEvaluator, LatencyEvaluator, SupernetEvaluator, syntheticDataset,
  type ArchSpec, type AttnBlock, type SearchSpace,
} from '../src/index.js';
import { crossAttention } from '../src/supernet/fn/cross.js';
import { dualMixing, poolGrid, poolMatrix } from '../src/supernet/fn/dual.js';
import { classAttentionLayer } from '../src/supernet/operators/class-attention.js';
import { ROOT } from './helpers.js';
import { expectGradientsMatchFiniteDifferences, expectStepTouchesOnlyUsage, expectSupernetEqualsStandalone } from './supernet-checks.js';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { assemble, checkGradients, get, head, maxDiff, mat, mul, randn, softmaxRows, tr } from './fn-helpers.js';

/** A tiny space with class attention and the dual pathway (patch 2: a 4×4 grid, so both M = 4 and M = 16 fit). */
const space: SearchSpace = validateSpace({
  name: 'tiny-x2',
  input: [8, 8, 1],
  classes: 4,
  patch: [2],
  stem: ['linear'],
  pos: ['learned', 'rope'],
  readout: ['cls'],
  embed: [8, 16],
  blocks: 2,
  depth: { min: 1, max: 2 },
  identity: 'anywhere',
  attention: ['softmax', 'dual'],
  heads: [1, 2],
  qkv: [24, 48],
  mlp: [8, 16],
  recursion: [1, 2],
  groups: [1],
  semantic: [4, 16],
  classAttention: [0, 1, 2],
});

const DUAL: AttnBlock = { op: 'attn', attention: 'dual', heads: 2, qkv: 24, mlp: 8 };
const SOFTMAX: AttnBlock = { op: 'attn', attention: 'softmax', heads: 1, qkv: 24, mlp: 8 };

function spec(fields: Partial<ArchSpec>): ArchSpec {
  return validateSpec({ version: 1, input: [8, 8, 1], classes: 4, patch: 2, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [SOFTMAX, SOFTMAX], ...fields });
}

/** Each new operator in the settings it can be used in. */
const CASES: Record<string, ArchSpec> = {
  'dual (M 4) then softmax': spec({ semantic: 4, blocks: [DUAL, SOFTMAX] }),
  'softmax then two passes of dual (M 16), rope': spec({ semantic: 16, pos: 'rope', blocks: [SOFTMAX, { ...DUAL, heads: 1, qkv: 48, mlp: 16, recursion: 2 }] }),
  'class attention, 2 layers': spec({ classAttention: 2, classBlocks: [{ heads: 2, qkv: 24, mlp: 8 }, { heads: 1, qkv: 48, mlp: 16 }] }),
  'dual (M 4) twice and class attention': spec({ semantic: 4, classAttention: 1, classBlocks: [{ heads: 2, qkv: 48, mlp: 16 }], blocks: [DUAL, { ...DUAL, heads: 1 }] }),
};

/** Names of the weights only the new operators have. */
const OWN = /^(semantic\.|cls_blocks\.|blocks\.\d+\.dual\.)/;

describe('operator catalogue II: class attention and the dual pathway', function () {
  this.timeout(600_000);
  before(async () => {
    await initBackend();
  });

  describe('cost model', () => {
    for (const [label, s] of Object.entries(CASES)) {
      it(`${label}: states the parameters the built model holds`, () => {
        const model = buildModel(s, 1);
        expect(model.paramCount()).to.equal(costOf(s).params);
        model.dispose();
      });

      it(`${label}: states the MACs its forward runs (counted on the product kernels)`, () => {
        const model = buildModel(s, 1);
        const x = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
        const counted = countMacs(() => void tf.tidy(() => model.forward(x))).macs;
        expect(counted).to.equal(costOf(s, 'macs').macs);
        x.dispose();
        model.dispose();
      });
    }

    for (const [label, s] of Object.entries(CASES))
      it(`${label}: the forward asks for exactly the declared parameters`, () => {
        const list = paramList(s);
        expect(tracedParamNames(s, new Map(list.map((e) => [e.name, e.shape]))).sort()).to.deep.equal(list.map((e) => e.name).sort());
      });

    it('prices a dual block at N·M for the pixel side, and forms the semantic tokens once however many dual blocks run', () => {
      const one = spec({ semantic: 4, blocks: [DUAL, SOFTMAX] });
      const two = spec({ semantic: 4, blocks: [DUAL, DUAL] });
      const rows = (s: ArchSpec): string[] => costReport(s).layers.map((l) => l.layer);
      expect(rows(two).filter((r) => r === 'semantic')).to.have.length(1);
      expect(rows(two).indexOf('semantic')).to.be.below(rows(two).indexOf('blocks.0.dual.mixing'));
      // N = 17 pixel tokens, M = 4, E = 16, I = 8, H = 8: the dual mixing row, term by term
      const N = 17, M = 4, E = 16, I = 8, H = 8;
      const mixing = costReport(one).layers.find((l) => l.layer === 'blocks.0.dual.mixing')!.macs;
      expect(mixing).to.equal(3 * M * E * I + 2 * M * M * I + M * I * E + M * E * I + 2 * N * E * I + 2 * M * N * I + M * I * E + 2 * M * E * H + 2 * N * M * I);
      expect(costReport(one).layers.find((l) => l.layer === 'blocks.0.dual.qkv+proj')!.macs).to.equal(2 * N * E * I + 2 * M * E * I);
    });

    it('counts the class attention over [cls; patches] in `macs` and over the patches alone in `vitas`; the patch blocks hold no class token', () => {
      const s = CASES['class attention, 2 layers']!;
      const row = (conv: 'macs' | 'vitas', name: string): number => costReport(s, conv).layers.find((l) => l.layer === name)!.macs;
      // E 16, I 8 (first layer): q and proj on the class token, k and v on 17 (macs) or 16 (vitas) tokens
      expect(row('macs', 'cls_blocks.0.class-attention.qkv+proj')).to.equal((2 + 2 * 17) * 16 * 8);
      expect(row('vitas', 'cls_blocks.0.class-attention.qkv+proj')).to.equal((2 + 2 * 16) * 16 * 8);
      expect(row('macs', 'cls_blocks.0.class-attention.mixing')).to.equal(2 * 17 * 8);
      // softmax over the 16 patch tokens only: 2·16²·I
      expect(row('macs', 'blocks.0.softmax.mixing')).to.equal(2 * 16 * 16 * 8);
      expect(paramList(s).find((e) => e.name === 'pos')!.shape).to.deep.equal([16, 16]);
    });
  });

  describe('inside the supernet and standalone', () => {
    let net: Supernet;
    before(() => {
      net = new Supernet(space, { seed: 7 });
    });
    after(() => net.dispose());
    const images = (): tf.Tensor4D => tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 11) as tf.Tensor4D;

    for (const [label, s] of Object.entries(CASES)) {
      it(`${label}: the supernet forward equals the extracted standalone model within 1e-5`, () => {
        expectSupernetEqualsStandalone(net, s, images);
      });

      it(`${label}: a training step changes exactly the slices and private weights the subnet uses`, () => {
        const keys = expectStepTouchesOnlyUsage(net, s, images);
        // the operators' own weights are used, under their private keys (per M, per head count)
        const own = paramList(s).filter((e) => OWN.test(e.name));
        expect(own.length).to.be.greaterThan(0);
        for (const e of own) expect(keys.some((k) => k.startsWith(e.name.slice(0, e.name.lastIndexOf('.')))), e.name).to.equal(true);
        if (s.semantic) expect(keys).to.include(`semantic.m${s.semantic}.queries`);
      });

      it(`${label}: forward and backward match finite differences`, () => {
        const model = buildModel(s, 3);
        const x = images();
        const r = tf.randomNormal([3, 4], 0, 1, 'float32', 5);
        const loss = (): tf.Scalar => tf.sum(tf.mul(model.forward(x), r)) as tf.Scalar;
        // two weights (largest |gradient|) of every parameter of the new operators and of the class token
        const names = model.trainableWeights().map(([n]) => n).filter((n) => OWN.test(n) || n === 'cls');
        expect(expectGradientsMatchFiniteDifferences(loss, model.weights, names), 'entries checked').to.be.greaterThan(10);
        x.dispose(); r.dispose(); model.dispose();
      });
    }

    it('keeps a token-indexed weight aligned by token when class attention takes the class token out of the blocks', () => {
      const mixSpace = validateSpace({
        name: 'mixer-ca', input: [28, 28, 1], classes: 10, patch: [7], stem: ['linear'], pos: ['learned'], readout: ['cls'], embed: [32], blocks: 8,
        depth: { min: 1, max: 8 }, identity: 'anywhere', attention: ['mixer'], heads: [1], qkv: [48], mlp: [64], recursion: [1], groups: [1], tokenMlp: [32], classAttention: [0, 1],
      });
      const mixer: AttnBlock = { op: 'attn', attention: 'mixer', heads: 1, qkv: 0, mlp: 64, tokenMlp: 32 };
      const base = { version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 32, pos: 'learned', readout: 'cls', blocks: [mixer, ...Array.from({ length: 7 }, () => ({ op: 'identity' }))] };
      const plain = validateSpec(base);
      const ca = validateSpec({ ...base, classAttention: 1, classBlocks: [{ heads: 1, qkv: 48, mlp: 64 }] });
      const big = new Supernet(mixSpace, { seed: 1 });
      const at = (s: ArchSpec, name: string): number[] => big.resolve(paramList(s).find((e) => e.name === name)!, s, 'left').region.begin;
      // 16 patches: with the class token in the blocks rows 0…16, without it rows 1…16: patch j on the same row
      expect(at(plain, 'blocks.0.mixer.fc1.w')).to.deep.equal([0, 0]);
      expect(at(ca, 'blocks.0.mixer.fc1.w')).to.deep.equal([1, 0]);
      expect(at(ca, 'blocks.0.mixer.fc2.w')).to.deep.equal([0, 1]);
      expect(at(ca, 'blocks.0.mixer.fc2.b')).to.deep.equal([1]);
      expect(at(ca, 'pos')).to.deep.equal([1, 0]);
      big.dispose();
    });

    it('leaks no tensor over 30 training steps of dual and class-attention subnets, both slicings', () => {
      const opt = new MaskedAdamW();
      const x = images(), y = tf.tensor1d([0, 1, 2], 'int32');
      const specs = Object.values(CASES);
      const before = new Map([...net.params].map(([k, p]) => [k, p.v.dataSync().slice() as Float32Array]));
      for (let i = 0; i < specs.length; i++) trainStep(net, opt, x, y, [specs[i]!], 1e-3, { slicing: 'two-sided', labelSmoothing: 0.1 });
      const start = tf.memory().numTensors;
      for (let i = 0; i < 30; i++) trainStep(net, opt, x, y, [specs[i % specs.length]!], 1e-3, { slicing: i % 2 ? 'left' : 'two-sided', labelSmoothing: 0.1 });
      expect(tf.memory().numTensors).to.equal(start);
      x.dispose(); y.dispose(); opt.dispose();
      for (const [key, p] of net.params) p.v.assign(tf.tensor(before.get(key)!, p.v.shape));
    });

    it('is scored for real by every evaluator: cost, proxy (a dual spec not as its softmax twin), latency and inherited-weight accuracy', async () => {
      const specs = Object.values(CASES);
      const twin = spec({ blocks: [{ ...DUAL, attention: 'softmax' }, SOFTMAX] });
      const proxy = new ProxyEvaluator(space, { seed: 3 });
      const scores = await proxy.evaluate([...specs, twin]);
      // each score is SNIP, Σ|W ⊙ ∂L/∂W| over the weight matrices, recomputed here on the standalone model extracted from
      // the proxy's supernet, on its batch and labels (private fields: no accessor in src; no BatchNorm in these specs)
      const inner = proxy as unknown as { net: Supernet; x: tf.Tensor4D; y: tf.Tensor1D };
      [...specs, twin].forEach((s, i) => {
        const model = extractSubnet(inner.net, s);
        const ws = model.trainableWeights().filter(([n]) => n.endsWith('.w'));
        const { grads } = tf.variableGrads(() => smoothedCrossEntropy(model.forward(inner.x), inner.y, s.classes, 0), ws.map(([, v]) => v));
        const snip = tf.tidy(() => ws.reduce((a, [, v]) => a + tf.sum(tf.abs(tf.mul(v, grads[v.name]!))).dataSync()[0]!, 0));
        tf.dispose(Object.values(grads));
        model.dispose();
        expect(snip, `SNIP of spec ${i}`).to.be.greaterThan(0);
        expect(scores[i], `proxy score of spec ${i}`).to.be.closeTo(snip, 1e-6 * snip);
      });
      expect(scores[0]).to.not.equal(scores[specs.length]);
      proxy.dispose();
      expect(await new CostEvaluator('macs').evaluate(specs)).to.deep.equal(specs.map((x) => costOf(x).macs));
      // latency on a clock that ticks once per tensor made (no timing assertion): each spec's median is the span of one
      // forward of its standalone model, counted again here on a model built the same way, after one warm-up run too
      const tick = (): number => {
        const t = tf.scalar(0);
        t.dispose();
        return t.id;
      };
      const span = (s: ArchSpec): number => {
        const model = buildModel(s, 0);
        const x = tf.zeros([1, ...s.input]) as tf.Tensor4D;
        tf.tidy(() => model.forward(x).dataSync());
        const t0 = tick();
        tf.tidy(() => model.forward(x).dataSync());
        const n = tick() - t0;
        x.dispose();
        model.dispose();
        return n;
      };
      const clock = performance as unknown as { now?: () => number };
      expect(Object.prototype.hasOwnProperty.call(clock, 'now'), 'performance.now on the prototype (deleting the patch restores it)').to.equal(false);
      clock.now = tick;
      let ticks: number[];
      try {
        ticks = await new LatencyEvaluator({ runs: 3 }).evaluate(specs);
      } finally {
        delete clock.now;
      }
      expect(ticks).to.deep.equal(specs.map(span));
      expect(new Set(ticks).size, 'distinct spans').to.be.greaterThan(1);
      // accuracy with inherited weights: the hits of the standalone model extracted from the supernet, on the same images
      const data = syntheticDataset({ count: 12, shape: [8, 8, 1], classes: 4, seed: 2 });
      const acc = await new SupernetEvaluator(net, data).evaluate(specs);
      const direct = specs.map((s) => {
        const model = extractSubnet(net, s);
        const hits = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(model.forward(tf.tensor4d(data.images, [12, 8, 8, 1])), 1), tf.tensor1d(data.labels, 'int32')), 'int32')).dataSync()[0]!);
        model.dispose();
        return hits / 12;
      });
      expect(acc).to.deep.equal(direct);
    });

    it('runs forward and backward on the wasm backend', async () => {
      const info = await initBackend('wasm');
      expect(tf.getBackend()).to.equal('wasm');
      const s = CASES['dual (M 4) twice and class attention']!;
      const model = buildModel(s, 2);
      const x = images();
      const { value, grads } = tf.variableGrads(() => tf.sum(model.forward(x)) as tf.Scalar);
      expect(Number.isFinite(value.dataSync()[0]!)).to.equal(true);
      const norms = Object.entries(grads).filter(([n]) => /semantic|cls_blocks|dual/.test(n)).map(([, g]) => tf.tidy(() => tf.norm(g).dataSync()[0]!));
      expect(norms.length).to.be.greaterThan(0);
      expect(norms.every((n) => Number.isFinite(n))).to.equal(true);
      expect(norms.some((n) => n > 0)).to.equal(true);
      tf.dispose([value, x, ...Object.values(grads)]);
      model.dispose();
      void info;
      await initBackend();
    });
  });

  describe('functions', () => {
    it('crossAttention is softmax(QKᵀ/√d)V per head for queries and keys of different counts, with a matching backward', () => {
      const q = randn([2, 3, 8], 1) as tf.Tensor3D, k = randn([2, 5, 8], 2) as tf.Tensor3D, v = randn([2, 5, 8], 3) as tf.Tensor3D;
      const ref = assemble(q.shape, 2, (b, h) => {
        const s = mul(head(q.dataSync(), q.shape, 2, b, h), tr(head(k.dataSync(), k.shape, 2, b, h)));
        return mul(softmaxRows(mat(s.rows, s.cols, (i, j) => get(s, i, j) / 2)), head(v.dataSync(), v.shape, 2, b, h));
      });
      expect(maxDiff(crossAttention(q, k, v, 2).dataSync(), ref)).to.be.below(1e-5);
      checkGradients((a, b, c) => crossAttention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, 2), [q, k, v], 4);
      tf.dispose([q, k, v]);
    });

    it("pools the patch grid with PyTorch's adaptive bins (7 → 2: rows 0–3 and 3–6), every cell an average", () => {
      const m = poolMatrix(7, 7, 2);
      for (let cell = 0; cell < 4; cell++) expect(m.slice(cell * 49, cell * 49 + 49).reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-6);
      const x = tf.tensor3d(Float32Array.from({ length: 49 }, (_, i) => i), [1, 49, 1]);
      // cell (0, 1): rows 0..3, columns 3..6 → the mean of r·7 + c
      const want = [0, 1, 2, 3].flatMap((r) => [3, 4, 5, 6].map((c) => r * 7 + c)).reduce((a, b) => a + b, 0) / 16;
      expect(poolGrid(x, 7, 7, 2).dataSync()[1]).to.be.closeTo(want, 1e-4);
      x.dispose();
    });

    it('dualMixing: forward and backward match finite differences for the pixel and the semantic tokens', () => {
      const lin = (i: number, o: number, seed: number): { w: tf.Tensor2D; b: tf.Tensor1D } => ({ w: randn([i, o], seed, 0.3) as tf.Tensor2D, b: randn([o], seed + 1, 0.1) as tf.Tensor1D });
      const nrm = (seed: number): { gamma: tf.Tensor1D; beta: tf.Tensor1D } => ({ gamma: tf.add(1, randn([8], seed, 0.1)) as tf.Tensor1D, beta: randn([8], seed + 1, 0.1) as tf.Tensor1D });
      const w = {
        selfNorm: nrm(1), selfQ: lin(8, 4, 3), selfK: lin(8, 4, 5), selfV: lin(8, 4, 7), selfProj: lin(4, 8, 9),
        crossNorm: nrm(11), crossQ: lin(8, 4, 13), crossK: lin(8, 4, 15), crossV: lin(8, 4, 17), crossProj: lin(4, 8, 19),
        mlpNorm: nrm(21), fc1: lin(8, 6, 23), fc2: lin(6, 8, 25), kvNorm: nrm(27), q: lin(8, 4, 29), k: lin(8, 4, 31), v: lin(8, 4, 33), proj: lin(4, 8, 35),
      };
      const h = randn([2, 5, 8], 40) as tf.Tensor3D, s = randn([2, 4, 8], 41) as tf.Tensor3D;
      // both outputs in one tensor, so the check covers the pixel branch and the new semantic tokens;
      // a small step: the semantic MLP's ReLU has kinks a step of 1e-2 crosses
      checkGradients((a, b) => {
        const r = dualMixing(a as tf.Tensor3D, b as tf.Tensor3D, w, 2);
        return tf.concat([r.out, r.semantic], 1);
      }, [h, s], 6, 2e-3);
      tf.dispose([h, s, ...Object.values(w).flatMap((x) => Object.values(x) as tf.Tensor[])]);
    });

    it('class attention reads the patches as a set: permuting them leaves the class token unchanged', () => {
      const s = CASES['class attention, 2 layers']!;
      const model = buildModel(s, 4);
      const src = { get: (n: string): tf.Tensor => model.weights.get(n)! };
      tf.tidy(() => {
        const cls = randn([2, 16], 1) as tf.Tensor2D;
        const patches = randn([2, 16, 16], 2) as tf.Tensor3D;
        const perm = new Rng(3).shuffle(Array.from({ length: 16 }, (_, i) => i));
        const shuffled = tf.stack(perm.map((p) => tf.slice(patches, [0, p, 0], [2, 1, 16]).reshape([2, 16])), 1) as tf.Tensor3D;
        const a = classAttentionLayer(cls, patches, s.classBlocks![0]!, 'cls_blocks.0', src);
        const b = classAttentionLayer(cls, shuffled, s.classBlocks![0]!, 'cls_blocks.0', src);
        expect(maxDiff(a.dataSync(), b.dataSync())).to.be.below(1e-5);
      });
      model.dispose();
    });
  });

  describe('spec and space', () => {
    const bad = (fields: Partial<ArchSpec>): string => {
      try {
        spec(fields);
      } catch (e) {
        expect(e).to.be.instanceOf(VitasError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };

    it('rejects a bad semantic count or class attention with one line naming the JSON path and what is allowed', () => {
      expect(bad({ semantic: 5, blocks: [DUAL] })).to.equal('spec: semantic: 5 must be a square ≥ 4 (the patch grid is pooled to √M×√M cells): 4, 9, 16, …');
      expect(bad({ semantic: 1, blocks: [DUAL] })).to.match(/^spec: semantic: 1 must be a square ≥ 4/);
      expect(bad({ semantic: 16, patch: 4, blocks: [DUAL] })).to.equal('spec: semantic: 16 needs a 4×4 pool of the 2×2 patch grid; at most 4');
      expect(bad({ blocks: [DUAL] })).to.equal('spec: semantic: is required: blocks[0] has attention "dual" (M semantic tokens, a square ≥ 4 such as 4 or 16)');
      expect(bad({ semantic: 4 })).to.equal('spec: semantic: is only allowed when a block has attention "dual"');
      expect(bad({ readout: 'mean', classAttention: 1, classBlocks: [{ heads: 1, qkv: 24, mlp: 8 }] })).to.equal('spec: classAttention: 1 needs readout "cls" (the class token is what queries the patches)');
      expect(bad({ classAttention: 2, classBlocks: [{ heads: 1, qkv: 24, mlp: 8 }] })).to.equal('spec: classBlocks: has 1 entries; needs one per class-attention layer (classAttention = 2)');
      expect(bad({ classAttention: 1, classBlocks: [{ heads: 3, qkv: 24, mlp: 8 }] })).to.equal('spec: classBlocks[0].heads: 3 does not divide qkv/3 = 8');
      expect(bad({ semantic: 4, blocks: [{ ...DUAL, groups: [2] }] })).to.equal('spec: blocks[0].groups[0]: 2: sliced group attention needs attention "softmax"');
    });

    it('answers a bad semantic count on the command line with one line on stderr and exit code 2', () => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-cat2-'));
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify({ ...CASES['dual (M 4) then softmax']!, semantic: 8 }));
      const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'flops', file], { encoding: 'utf8' });
      expect(r.status).to.equal(2);
      expect(r.stderr.trim().split('\n')).to.deep.equal([`vitas: ${file}: semantic: 8 must be a square ≥ 4 (the patch grid is pooled to √M×√M cells): 4, 9, 16, …`]);
    });

    it('rejects a space with dual but no semantic counts, a non-square count, or class attention without a class token', () => {
      const raw = { ...space, name: 'x' } as Record<string, unknown>;
      const msg = (s: Record<string, unknown>): string => {
        try {
          validateSpace(s);
        } catch (e) {
          return (e as Error).message;
        }
        return 'accepted';
      };
      expect(msg({ ...raw, semantic: undefined })).to.equal('space: semantic: is required when dual is searchable (semantic token counts, squares ≥ 4 such as [4, 16])');
      expect(msg({ ...raw, semantic: [4, 8] })).to.equal('space: semantic[1]: 8 must be a square ≥ 4 (the patch grid is pooled to √M×√M cells)');
      expect(msg({ ...raw, patch: [2, 4] })).to.equal('space: semantic[1]: 16 needs a 4×4 pool; patch 4 gives a 2×2 grid');
      expect(msg({ ...raw, readout: ['mean'] })).to.equal('space: classAttention: needs readout "cls" in the space (the class token queries the patches)');
      expect(msg({ ...raw, readout: ['cls', 'mean'], classAttention: [1, 2] })).to.match(/^space: classAttention: must include 0/);
    });

    it('samples, mutates and crosses over dual and class-attention specs that stay valid, inside the space and decodable', () => {
      const rng = new Rng(21);
      const seen = { dual: new Set<number>(), L: new Set<number>() };
      const pop = Array.from({ length: 40 }, () => sampleSpec(space, rng));
      const check = (s: ArchSpec): void => {
        validateSpec(s);
        expect(contains(space, s)).to.equal(true);
        expect(decode(space, encode(space, s))).to.deep.equal(s);
        if (s.semantic) seen.dual.add(s.semantic);
        seen.L.add(s.classAttention ?? 0);
      };
      pop.forEach(check);
      for (let i = 0; i < 100; i++) {
        check(mutate(space, rng.pick(pop), rng));
        check(crossover(space, rng.pick(pop), rng.pick(pop), rng));
      }
      expect([...seen.dual].sort()).to.deep.equal([16, 4]);
      expect([...seen.L].sort()).to.deep.equal([0, 1, 2]);
    });

    it('gives a mean-readout subnet no class attention', () => {
      const both = validateSpace({ ...space, name: 'both', readout: ['cls', 'mean'], classAttention: [0, 2] });
      const rng = new Rng(4);
      let mean = 0, clsWithCa = 0;
      for (let i = 0; i < 50; i++) {
        const s = sampleSpec(both, rng);
        validateSpec(s);
        if (s.readout === 'mean') {
          mean++;
          expect(s.classAttention, `#${i}`).to.equal(undefined);
          expect(s.classBlocks, `#${i}`).to.equal(undefined);
        } else if ((s.classAttention ?? 0) > 0) clsWithCa++;
      }
      expect(mean, 'mean-readout samples').to.be.greaterThan(0);
      // the sampler draws L ∈ {0, 2} for every subnet and sets it to 0 only for a mean readout: class-token subnets keep theirs
      expect(clsWithCa, 'class-token samples with class attention').to.be.greaterThan(0);
    });

    it('finds the exact reachable range: the cheapest and dearest of every spec of a small space, both conventions', () => {
      const small = validateSpace({ ...space, name: 'small', embed: [16], heads: [2], qkv: [24], recursion: [1, 2], pos: ['learned'] });
      // every spec of the space: per block identity or {softmax, dual} × MLP × recursion; M; L with each layer's MLP
      const blocks: ({ op: 'identity' } | AttnBlock)[] = [{ op: 'identity' }];
      for (const attention of ['softmax', 'dual'] as const) for (const mlp of [8, 16]) for (const recursion of [1, 2]) blocks.push({ op: 'attn', attention, heads: 2, qkv: 24, mlp, recursion, groups: new Array<number>(recursion).fill(1) });
      const classes = [[], ...[8, 16].map((m) => [m]), ...[8, 16].flatMap((a) => [8, 16].map((b) => [a, b]))];
      for (const conv of ['macs', 'vitas'] as const) {
        let min = Infinity, max = -Infinity;
        for (const a of blocks) for (const b of blocks) for (const cls of classes) {
          if (a.op === 'identity' && b.op === 'identity') continue;
          const dual = [a, b].some((x) => x.op === 'attn' && x.attention === 'dual');
          for (const semantic of dual ? [4, 16] : [undefined]) {
            const s: ArchSpec = { version: 1, input: [8, 8, 1], classes: 4, patch: 2, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [a, b] };
            if (semantic) s.semantic = semantic;
            if (cls.length) [s.classAttention, s.classBlocks] = [cls.length, cls.map((mlp) => ({ heads: 2, qkv: 24, mlp }))];
            const m = costOf(s, conv).macs;
            [min, max] = [Math.min(min, m), Math.max(max, m)];
          }
        }
        const r = reachableRange(small, conv);
        expect([r.min, r.max], conv).to.deep.equal([min, max]);
        expect([costOf(r.minSpec, conv).macs, costOf(r.maxSpec, conv).macs]).to.deep.equal([min, max]);
        expect(contains(small, r.minSpec) && contains(small, r.maxSpec)).to.equal(true);
      }
    });

    it('holds dual and class attention in the fmnist-x preset, and the example spec uses both', () => {
      const x = presetSpace('fmnist-x');
      expect(x.attention).to.include('dual');
      expect(x.semantic).to.deep.equal([4, 16]);
      expect(x.classAttention).to.deep.equal([0, 1, 2]);
      const example = loadSpec(join(ROOT, 'examples/fmnist-dual-ca.json'));
      expect(example.blocks.some((b) => b.op === 'attn' && b.attention === 'dual')).to.equal(true);
      expect(example.classAttention).to.be.greaterThan(0);
      expect(contains(x, example)).to.equal(true);
    });
  });
});
