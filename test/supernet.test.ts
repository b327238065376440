import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  initBackend, Supernet, MaskedAdamW, trainStep, DataParallelStep, extractSubnet, buildModel, trainSupernet, syntheticDataset, splitValidation,
  searchIdentityProbability, meanCost, presetSpace, checkMemory, reachableRange, VitasError, evaluateSubnet,
  tracedParamNames, paramList, sampleSpec, Rng, learningCurveSvg, runSupernetTraining, evaluateSupernetRun, referenceSubnets, samplingPId, loadSupernetRun,
  type ArchSpec, type AttnBlock, type StageRecord,
} from '../src/index.js';
import { tf } from '../src/backend/index.js';
import { budgetWindow } from '../src/definition/budget.js';
import { tinySpace, tinySpec } from './helpers.js';

const snapshot = (net: Supernet): Map<string, Float32Array> => new Map([...net.params].map(([k, p]) => [k, Float32Array.from(p.v.dataSync() as Float32Array)]));
const images = (n: number, seed: number): tf.Tensor4D => tf.randomNormal([n, 8, 8, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('super-transformer', () => {
  before(async () => {
    await initBackend();
  });

  it('changes exactly the slices a step used, and nothing of other patch sizes or head counts', () => {
    const net = new Supernet(tinySpace, { seed: 3 });
    const opt = new MaskedAdamW();
    const spec = tinySpec({ patch: 2, embed: 8 }, { heads: 1, qkv: 12, mlp: 8 });
    const before = snapshot(net);
    const x = images(4, 1), y = tf.tensor1d([0, 1, 2, 3], 'int32');
    trainStep(net, opt, x, y, [spec], 1e-2, { slicing: 'left', labelSmoothing: 0.1 });
    const after = snapshot(net);
    const changed = (k: string): boolean => before.get(k)!.some((v, i) => v !== after.get(k)![i]);
    // untouched: the other patch size's private embedding/tokens, the other head count's Q/K, the identity block, the unused NLL
    for (const k of ['patch_embed.p4.w', 'p4.cls', 'p4.pos', 'blocks.0.attn.q.h2.w', 'blocks.0.attn.k.h2.w', 'blocks.1.attn.v.w', 'blocks.0.nll1.fc1.w']) expect(changed(k), k).to.equal(false);
    for (const k of ['patch_embed.p2.w', 'p2.cls', 'p2.pos', 'blocks.0.attn.q.h1.w', 'blocks.0.attn.v.w', 'blocks.0.mlp.fc1.w', 'head.w']) expect(changed(k), k).to.equal(true);
    // inside a used weight, only its slice moved: fc1 is [16, 16], the subnet uses [:8, :8]
    const fc1Before = before.get('blocks.0.mlp.fc1.w')!, fc1After = after.get('blocks.0.mlp.fc1.w')!;
    for (let r = 0; r < 16; r++)
      for (let c = 0; c < 16; c++) {
        const moved = fc1Before[r * 16 + c] !== fc1After[r * 16 + c];
        expect(moved, `fc1[${r},${c}]`).to.equal(r < 8 && c < 8);
      }
    // and the position rows: 16 patches + class token of patch 2, all used; columns 8..15 not
    const posB = before.get('p2.pos')!, posA = after.get('p2.pos')!;
    for (let i = 0; i < posB.length; i++) if (i % 16 >= 8) expect(posA[i]).to.equal(posB[i]);
    x.dispose(); y.dispose(); opt.dispose(); net.dispose();
  });

  it('shares class tokens and attention maps when the ablation switches them off', () => {
    const net = new Supernet(tinySpace, { seed: 3, privateTokens: false, privateAttention: false });
    expect([...net.params.keys()]).to.include.members(['cls', 'pos', 'blocks.0.attn.q.w']);
    expect([...net.params.keys()].some((k) => k === 'p2.cls' || k.endsWith('q.h1.w'))).to.equal(false);
    tf.tidy(() => {
      const x = images(2, 5);
      // patch 4 (4 patches + cls) reads the first 5 rows of the shared 17-row position table
      const usage = new Map();
      net.forward(x, tinySpec({ patch: 4 }), 'left', usage);
      expect(usage.get('pos')).to.deep.equal([{ begin: [0, 0], size: [5, 8] }]);
      expect(usage.has('blocks.0.attn.q.w')).to.equal(true);
    });
    net.dispose();
  });

  it('gives grouped and global attention their own Q and K with privateGroups, and trains only the grouped pair on a grouped subnet', () => {
    const net = new Supernet(tinySpace, { seed: 3, privateAttention: false, privateGroups: true });
    const keys = [...net.params.keys()];
    expect(keys).to.include.members(['blocks.0.attn.q.g1.w', 'blocks.0.attn.q.g2.w', 'blocks.0.attn.k.g1.b', 'blocks.0.attn.k.g2.b']);
    // V, the output projection and the MLP stay shared
    expect(keys).to.include.members(['blocks.0.attn.v.w', 'blocks.0.attn.proj.w', 'blocks.0.mlp.fc1.w']);
    expect(keys.some((k) => k === 'blocks.0.attn.q.w')).to.equal(false);
    // a block grouped in its second pass only counts as grouped (its largest group count)
    const grouped = tinySpec({}, { recursion: 2, groups: [1, 2] });
    const usage = net.usage([grouped], 'left');
    expect(usage.has('blocks.0.attn.q.g2.w') && !usage.has('blocks.0.attn.q.g1.w')).to.equal(true);
    const opt = new MaskedAdamW();
    const before = snapshot(net);
    const x = images(4, 2), y = tf.tensor1d([0, 1, 2, 3], 'int32');
    trainStep(net, opt, x, y, [grouped], 1e-2, { slicing: 'left', labelSmoothing: 0.1 });
    const after = snapshot(net);
    const moved = (k: string): boolean => before.get(k)!.some((v, i) => v !== after.get(k)![i]);
    expect(moved('blocks.0.attn.q.g2.w')).to.equal(true);
    expect(moved('blocks.0.attn.q.g1.w')).to.equal(false);
    expect(moved('blocks.0.attn.v.w')).to.equal(true);
    x.dispose(); y.dispose(); opt.dispose(); net.dispose();
    // off (the default), one pair serves both
    const shared = new Supernet(tinySpace, { seed: 3, privateAttention: false });
    expect([...shared.params.keys()]).to.include('blocks.0.attn.q.w');
    expect([...shared.usage([grouped], 'left').keys()]).to.include('blocks.0.attn.q.w');
    shared.dispose();
  });

  it('trains the right-hand slices too in two-sided mode', () => {
    const net = new Supernet(tinySpace, { seed: 3 });
    const opt = new MaskedAdamW();
    const before = snapshot(net);
    const x = images(4, 2), y = tf.tensor1d([0, 1, 2, 3], 'int32');
    trainStep(net, opt, x, y, [tinySpec()], 1e-2, { slicing: 'two-sided', labelSmoothing: 0.1 });
    const a = before.get('blocks.0.mlp.fc1.w')!, b = snapshot(net).get('blocks.0.mlp.fc1.w')!;
    expect(a[15 * 16 + 15]).to.not.equal(b[15 * 16 + 15]); // right slice [8:, 8:]
    expect(a[0]).to.not.equal(b[0]); // left slice
    expect(a[0 * 16 + 15]).to.equal(b[0 * 16 + 15]); // neither
    x.dispose(); y.dispose(); opt.dispose(); net.dispose();
  });

  it('with recursion r = 2 equals applying the shared block twice', () => {
    const net = new Supernet(tinySpace, { seed: 4 });
    // block 1 gets block 0's weights; the NLL after each pass is switched off (β = 0), the residual scalars stay 1
    for (const [k, p] of net.params) if (k.startsWith('blocks.1.') && !k.includes('nll') && net.params.has(k.replace('blocks.1.', 'blocks.0.'))) p.v.assign(net.params.get(k.replace('blocks.1.', 'blocks.0.'))!.v);
    for (const n of ['nll1', 'nll2']) net.params.get(`blocks.0.${n}.beta`)!.v.assign(tf.zeros([1]));
    const blk = { op: 'attn', attention: 'softmax', heads: 2, qkv: 12, mlp: 8 } as const;
    const recursive: ArchSpec = { ...tinySpec(), blocks: [{ ...blk, recursion: 2, groups: [1, 1] }, { op: 'identity' }] };
    const twice: ArchSpec = { ...tinySpec(), blocks: [{ ...blk }, { ...blk }] };
    tf.tidy(() => {
      const x = images(2, 3);
      expect(maxDiff(net.forward(x, recursive), net.forward(x, twice))).to.be.below(1e-5);
      net.params.get('blocks.0.nll1.beta')!.v.assign(tf.ones([1]));
      expect(maxDiff(net.forward(x, recursive), net.forward(x, twice))).to.be.above(1e-4); // the NLL after the first pass is really there
      net.params.get('blocks.0.nll1.beta')!.v.assign(tf.zeros([1]));
      net.params.get('blocks.0.nll2.beta')!.v.assign(tf.ones([1]));
      expect(maxDiff(net.forward(x, recursive), net.forward(x, twice))).to.be.above(1e-4); // and the one after the last pass (SReT's B → NLL₁ → B → NLL₂)
      net.params.get('blocks.0.nll2.beta')!.v.assign(tf.zeros([1]));
      net.params.get('blocks.0.beta1')!.v.assign(tf.scalar(0.5).reshape([1]));
      expect(maxDiff(net.forward(x, recursive), net.forward(x, twice))).to.be.above(1e-4); // the residual's β scales the attention branch
    });
    net.dispose();
  });

  it('with G = 1 equals plain attention, and with G > 1 attends only inside each group', () => {
    const net = new Supernet(tinySpace, { seed: 5 });
    tf.tidy(() => {
      const x = images(2, 4);
      const plain = tinySpec({ patch: 4 }, { groups: undefined });
      delete (plain.blocks[0] as AttnBlock).groups;
      expect(maxDiff(net.forward(x, plain), net.forward(x, tinySpec({ patch: 4 }, { groups: [1] })))).to.equal(0);
      // patch 4: 4 patches in 2 groups — {cls, p0, p1} and {p2, p3}. Read the cls output (group 0):
      // changing the image under patches 2 and 3 must not change it after one grouped block.
      const grouped = tinySpec({ patch: 4 }, { groups: [2] });
      const x2 = tf.concat([tf.slice(x, [0, 0, 0, 0], [2, 4, 8, 1]), tf.add(tf.slice(x, [0, 4, 0, 0], [2, 4, 8, 1]), 5)], 1) as tf.Tensor4D;
      expect(maxDiff(net.forward(x, grouped), net.forward(x2, grouped))).to.be.below(1e-5);
      expect(maxDiff(net.forward(x, plain), net.forward(x2, plain))).to.be.above(1e-3);
    });
    net.dispose();
  });

  it('extracts a standalone model whose forward equals the supernet within 1e-5', () => {
    const net = new Supernet(tinySpace, { seed: 6 });
    for (const spec of [tinySpec(), tinySpec({ patch: 4, embed: 16 }, { heads: 1, qkv: 24, mlp: 16, recursion: 2, groups: [2, 2] })]) {
      const model = extractSubnet(net, spec);
      tf.tidy(() => {
        const x = images(3, 7);
        expect(maxDiff(model.forward(x), net.forward(x, spec))).to.be.below(1e-5);
      });
      model.dispose();
    }
    const fresh = buildModel(tinySpec(), 1);
    expect(fresh.paramCount()).to.be.greaterThan(0);
    fresh.dispose();
    net.dispose();
  });

  it('lists exactly the parameters the forward traces, for every kind of block', () => {
    const rng = new Rng(11);
    for (let i = 0; i < 20; i++) {
      const spec = sampleSpec(tinySpace, rng);
      const list = paramList(spec);
      const traced = tracedParamNames(spec, new Map(list.map((e) => [e.name, e.shape])));
      expect([...traced].sort()).to.deep.equal(list.map((e) => e.name).sort());
    }
  });

  it('takes the same steps data-parallel over worker threads as in one thread', async () => {
    const specs = [tinySpec({ patch: 2, embed: 16 }, { heads: 2, qkv: 24, mlp: 16, recursion: 2, groups: [1, 2] }), tinySpec({ patch: 4, embed: 8 }, { heads: 1, qkv: 12, mlp: 8 })];
    const one = new Supernet(tinySpace, { seed: 5 });
    const many = new Supernet(tinySpace, { seed: 5 });
    const [optOne, optMany] = [new MaskedAdamW(), new MaskedAdamW()];
    const parallel = new DataParallelStep(many, 3);
    try {
      for (let step = 0; step < 4; step++) {
        const x = images(7, 10 + step), y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2], 'int32');
        const batch = { x: x.dataSync() as Float32Array, y: y.dataSync() as Int32Array, size: 7 };
        const spec = [specs[step % 2]!];
        const a = trainStep(one, optOne, x, y, spec, 1e-2, { slicing: 'left', labelSmoothing: 0.1 });
        const b = await parallel.step(optMany, batch, spec, 1e-2, { slicing: 'left', labelSmoothing: 0.1 });
        expect(b).to.be.closeTo(a, 1e-5);
        x.dispose();
        y.dispose();
      }
      // 1e-4: Adam rescales float noise in gradients that are zero in exact arithmetic (K biases) to lr-sized moves
      for (const [k, p] of one.params) expect(maxDiff(p.v, many.params.get(k)!.v), k).to.be.below(1e-4);
    } finally {
      await parallel.dispose();
      one.dispose();
      many.dispose();
    }
  });

  it('fails a data-parallel step with the one-line error of a bad spec, in this thread and the workers alike', async () => {
    const net = new Supernet(tinySpace, { seed: 5 });
    const parallel = new DataParallelStep(net, 2);
    const bad = tinySpec({}, { attention: 'performer', features: 8 } as Partial<AttnBlock>);
    const batch = { x: new Float32Array(4 * 64), y: new Int32Array(4), size: 4 };
    try {
      let err: unknown;
      try {
        await parallel.step(new MaskedAdamW(), batch, [bad], 1e-3, { slicing: 'left', labelSmoothing: 0.1 });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.match(/^spec: blocks\[0\]\.attention: "performer" is outside space "tiny"; allowed: "softmax"$/);
    } finally {
      await parallel.dispose();
      net.dispose();
    }
  });

  it('keeps tf.memory().numTensors flat over 200 training steps', () => {
    const net = new Supernet(tinySpace, { seed: 7 });
    const opt = new MaskedAdamW();
    const x = images(4, 8), y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const specs = [tinySpec(), tinySpec({ patch: 4 }, { recursion: 2, groups: [1, 2] }), tinySpec({ embed: 16 }, { heads: 1, qkv: 24, mlp: 16 })];
    for (let i = 0; i < 10; i++) trainStep(net, opt, x, y, [specs[i % 3]!], 1e-3, { slicing: 'two-sided', labelSmoothing: 0.1 }); // moments allocated
    const start = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) trainStep(net, opt, x, y, [specs[i % 3]!], 1e-3, { slicing: i % 2 ? 'left' : 'two-sided', labelSmoothing: 0.1 });
    expect(tf.memory().numTensors).to.equal(start);
    x.dispose(); y.dispose(); opt.dispose(); net.dispose();
  });

  describe('trainer', () => {
    const data = splitValidation(syntheticDataset({ count: 96, shape: [8, 8, 1], classes: 4, seed: 1 }), 16, 0);
    const recipe = { epochs: 3, batch: 16, sampling: 'uniform' as const, warmupEpochs: 1, lr: 3e-3, seed: 5 };

    it('measures the watched subnets after every epoch and draws their learning curve', async () => {
      const subnets = [{ name: 'small', spec: tinySpec() }, { name: 'big', spec: tinySpec({ embed: 16 }, { heads: 2, qkv: 24, mlp: 16 }) }];
      const epochs: number[] = [];
      const r = await trainSupernet({ space: tinySpace, data, recipe, validate: { data: data.val, subnets }, events: { onEpoch: (_e, h) => void epochs.push(h!.length) } });
      expect(epochs).to.deep.equal([1, 2, 3]);
      expect(r.history.map((h) => Object.keys(h.val!))).to.deep.equal([['small', 'big'], ['small', 'big'], ['small', 'big']]);
      expect(r.history[2]!.val!.big).to.equal(evaluateSubnet(r.supernet, subnets[1]!.spec, data.val));
      const svg = learningCurveSvg(r.history, 'tiny');
      expect(svg.match(/<polyline/g)).to.have.length(2);
      expect(svg).to.include('big').and.to.include('small');
      r.supernet.dispose();
    });

    it('evaluates a trained run\'s reference subnets from its checkpoint (vitas supernet eval)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-seval-'));
      writeFileSync(join(dir, 'tiny-space.json'), JSON.stringify(tinySpace));
      const def = { name: 'tiny', space: join(dir, 'tiny-space.json'), data: { dataset: 'synthetic', validation: 16, limit: 64, size: 8, channels: 1, classes: 4 }, budget: { max: '60K', min: '1K' }, supernet: { epochs: 1, batch: 16, sampling: 'uniform' } };
      writeFileSync(join(dir, 'def.json'), JSON.stringify(def));
      const run = await runSupernetTraining({ config: join(dir, 'def.json'), out: join(dir, 'run'), threads: 1, valImages: 8 });
      const rows = evaluateSupernetRun({ config: join(dir, 'def.json'), supernet: join(dir, 'run') });
      expect(rows.map((r) => r.name)).to.deep.equal(['smallest', 'median', 'largest']);
      expect(rows.map((r) => r.valAccuracy)).to.deep.equal(run.scores.map((s) => s.valAccuracy));
      expect(existsSync(join(dir, 'run', 'curve.svg'))).to.equal(true);
      run.result.supernet.dispose();
      // a new stage: config.json says what the run now trains with, and lists both invocations
      const stage = await runSupernetTraining({ config: join(dir, 'def.json'), out: join(dir, 'run'), threads: 1, valImages: 0, evaluate: false, resume: true, epochs: 2, sandwich: true, restartLr: 5e-4 });
      stage.result.supernet.dispose();
      const config = JSON.parse(readFileSync(join(dir, 'run', 'config.json'), 'utf8')) as { recipe: { sandwich: boolean; epochs: number }; stages: StageRecord[] };
      expect([config.recipe.sandwich, config.recipe.epochs]).to.deep.equal([true, 2]);
      expect(config.stages.map((s) => [s.fromEpoch, s.toEpoch, s.sandwich, s.restartLr])).to.deep.equal([[1, 1, false, undefined], [2, 2, true, 5e-4]]);
    });

    it('keeps Q and K per group count from a definition\'s privateGroups through training, the checkpoint and evaluation', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-groups-'));
      writeFileSync(join(dir, 'tiny-space.json'), JSON.stringify(tinySpace));
      const def = { name: 'tiny', space: join(dir, 'tiny-space.json'), data: { dataset: 'synthetic', validation: 16, limit: 64, size: 8, channels: 1, classes: 4 }, budget: { max: '60K', min: '1K' }, supernet: { epochs: 1, batch: 16, sampling: 'uniform', privateAttention: false, privateGroups: true } };
      writeFileSync(join(dir, 'def.json'), JSON.stringify(def));
      const run = await runSupernetTraining({ config: join(dir, 'def.json'), out: join(dir, 'run'), threads: 1, valImages: 8 });
      const keys = [...run.result.supernet.params.keys()];
      expect(keys).to.include.members(['blocks.0.attn.q.g1.w', 'blocks.0.attn.q.g2.w']);
      run.result.supernet.dispose();
      // the checkpoint rebuilds the same variables, and scores the reference subnets as training did
      const rows = evaluateSupernetRun({ config: join(dir, 'def.json'), supernet: join(dir, 'run') });
      expect(rows.map((r) => r.valAccuracy)).to.deep.equal(run.scores.map((s) => s.valAccuracy));
      const { net } = loadSupernetRun(tinySpace, join(dir, 'run', 'supernet.ckpt'));
      expect([...net.params.keys()]).to.deep.equal(keys);
      net.dispose();
    });

    it('evaluates the median subnet that training drew, with the identity probability of a --budget given at training', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-seval-pid-'));
      writeFileSync(join(dir, 'tiny-space.json'), JSON.stringify(tinySpace));
      const def = { name: 'tiny', space: join(dir, 'tiny-space.json'), data: { dataset: 'synthetic', validation: 16, limit: 64, size: 8, channels: 1, classes: 4 }, budget: { max: '60K', min: '1K' }, supernet: { epochs: 1, batch: 16, sampling: 'identity-search' } };
      writeFileSync(join(dir, 'def.json'), JSON.stringify(def));
      const run = await runSupernetTraining({ config: join(dir, 'def.json'), out: join(dir, 'run'), threads: 1, valImages: 8, budget: '8K', min: '1K' });
      run.result.supernet.dispose();
      const rows = evaluateSupernetRun({ config: join(dir, 'def.json'), supernet: join(dir, 'run') });
      // the definition's own window gives another p_id, and so another median subnet
      const fromDefinition = referenceSubnets(tinySpace, 0, samplingPId(def as never, tinySpace, budgetWindow('60K', '1K')));
      expect(rows[1]!.spec).to.not.deep.equal(fromDefinition[1]!.spec);
      expect(rows.map((r) => r.spec)).to.deep.equal(run.scores.map((s) => s.spec));
      expect(rows.map((r) => r.valAccuracy)).to.deep.equal(run.scores.map((s) => s.valAccuracy));
    });

    it('switches the sandwich rule on at a resume, as a new stage of the same run', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-stage-'));
      const first = await trainSupernet({ space: tinySpace, data, recipe: { ...recipe, epochs: 1 }, out: dir });
      first.supernet.dispose();
      const logs: string[] = [];
      const second = await trainSupernet({ space: tinySpace, data, recipe: { ...recipe, epochs: 2 }, out: dir, resume: true, resumeWith: { sandwich: true }, events: { onLog: (m) => void logs.push(m) } });
      expect(logs.join('\n')).to.match(/sandwich rule on from epoch 2, step 0/);
      // three subnets per step now: the summed loss is about three single-subnet losses
      expect(second.history[1]!.meanLoss).to.be.above(2 * second.history[0]!.meanLoss);
      second.supernet.dispose();
    });

    it('restarts the cosine at --restart-lr on a resume, and keeps the restart in the checkpoint', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-restart-'));
      const first = await trainSupernet({ space: tinySpace, data, recipe: { ...recipe, epochs: 1 }, out: dir });
      first.supernet.dispose();
      const lrs: number[] = [];
      const second = await trainSupernet({ space: tinySpace, data, recipe: { ...recipe, epochs: 3 }, out: dir, resume: true, resumeWith: { lr: 5e-3 }, events: { onStep: (e) => void lrs.push(e.lr) } });
      second.supernet.dispose();
      const perEpoch = lrs.length / 2;
      expect(lrs[0]).to.equal(5e-3);
      expect(lrs[lrs.length - 1]).to.be.below(lrs[perEpoch]!).and.to.be.above(1e-5);
      // a later resume keeps the restart (it is in the checkpoint's recipe): the cosine now ends at epoch 4
      const later: number[] = [];
      let stages: readonly StageRecord[] = [];
      const third = await trainSupernet({ space: tinySpace, data, recipe: { ...recipe, epochs: 4 }, out: dir, resume: true, events: { onStep: (e) => void later.push(e.lr), onStart: (e) => void (stages = e.stages ?? []) } });
      third.supernet.dispose();
      expect(later[0]).to.be.closeTo(1e-5 + 0.5 * (5e-3 - 1e-5) * (1 + Math.cos((Math.PI * 2) / 3)), 1e-12);
      // every invocation is on record in the checkpoint, the restart with the stage that began with it
      expect(stages).to.deep.equal([
        { fromEpoch: 1, fromStep: 0, toEpoch: 1, sandwich: false, threads: 1 },
        { fromEpoch: 2, fromStep: 0, toEpoch: 3, sandwich: false, restartLr: 5e-3, threads: 1 },
        { fromEpoch: 4, fromStep: 0, toEpoch: 4, sandwich: false, threads: 1 },
      ]);
    });

    it('refuses a restart at the end of the schedule', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vitas-restart-end-'));
      (await trainSupernet({ space: tinySpace, data, recipe: { ...recipe, epochs: 1 }, out: dir })).supernet.dispose();
      let err: unknown;
      try {
        await trainSupernet({ space: tinySpace, data, recipe: { ...recipe, epochs: 1 }, out: dir, resume: true, resumeWith: { lr: 1e-3 } });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.match(/--restart-lr: .*raise --epochs/);
    });

    it('learns: loss falls on a learnable synthetic task', async () => {
      // the classes are per-pixel templates, so no random crops (they would shift the template away)
      const learnable = splitValidation(syntheticDataset({ count: 400, shape: [8, 8, 1], classes: 4, seed: 1 }), 16, 0);
      const r = await trainSupernet({ space: tinySpace, data: learnable, recipe: { ...recipe, epochs: 3, augment: { crop: 0, flip: false } } });
      expect(r.history[2]!.meanLoss).to.be.below(r.history[0]!.meanLoss - 0.03);
      r.supernet.dispose();
    });
  });

  it('draws the median reference subnet the way the supernet samples: at p_id 0 every block of it runs', () => {
    const space = presetSpace('fmnist-c');
    const def = { name: 'd', space: 'fmnist-c', data: { dataset: 'fashion-mnist' as const, validation: 100 }, budget: { max: '12M' }, supernet: { sampling: 'identity-search' as const } };
    const pId = samplingPId(def, space, { min: 10.8e6, max: 12e6, convention: 'macs' });
    expect(pId).to.equal(0); // fmnist-c's random subnets average 9.88M, under the window
    const median = (p?: number): ArchSpec => referenceSubnets(space, 0, p).find((r) => r.name === 'median')!.spec;
    expect(median(pId).blocks.every((b) => b.op === 'attn')).to.equal(true);
    // the sampler's default draws identities, a depth pattern such a supernet never trains
    expect(median(undefined).blocks.some((b) => b.op === 'identity')).to.equal(true);
    // uniform sampling: identity is one choice more beside fmnist-c's two head counts
    expect(samplingPId({ ...def, supernet: { sampling: 'uniform' } }, space, { min: 10.8e6, max: 12e6, convention: 'macs' })).to.equal(1 / 3);
  });

  it('tunes the identity probability so the mean cost falls in the budget window', () => {
    const space = presetSpace('fmnist');
    const r = searchIdentityProbability(space, { min: 10.8e6, max: 12e6, convention: 'macs' }, { seed: 0 });
    expect(r.meanMacs).to.be.within(10.8e6, 12e6);
    expect(meanCost(space, r.pId, 1000, 0, 'macs')).to.equal(r.meanMacs);
    const lower = searchIdentityProbability(space, { min: 4e6, max: 5e6, convention: 'macs' });
    expect(lower.pId).to.be.greaterThan(r.pId);
  });

  it('refuses a batch too large for the wasm heap with a clear message whose batch fits', async () => {
    const target = { spec: reachableRange(presetSpace('vitas-1g')).maxSpec };
    let err: unknown;
    try {
      await checkMemory(target, 64);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(VitasError);
    const m = /^--batch 64 needs [\d.]+ GB of wasm heap \(weights [\d.]+ GB, their gradients and working copies [\d.]+ GB, activations [\d.]+ GB\), over the [\d.]+ GB a step can use \(4 GB max\); the largest batch that fits is (\d+): lower --batch to \1 \(or use the tfjs-node backend\)$/.exec((err as Error).message);
    expect(m, (err as Error).message).to.not.equal(null);
    await checkMemory(target, Number(m![1]));
  });
});
