/**
 * The one training loop (src/train/loop.ts) as its two users meet it: supernet training and
 * retraining stop mid-epoch and resume to exactly the run that never stopped, stop on a
 * non-finite loss with one line naming where and the checkpoint kept, and report progress.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  initBackend, trainSupernet, retrain, loadSupernet, loadCheckpoint, saveCheckpoint, evaluateSubnet, learningRate, syntheticDataset, splitValidation, VitasError,
  DEFAULT_RETRAIN, type StepEvent,
} from '../src/index.js';
import { tinySpace, tinySpec } from './helpers.js';

const tmp = (what: string): string => mkdtempSync(join(tmpdir(), `vitas-loop-${what}-`));
/** a typed array's own bytes (a checkpoint's arrays are views into the whole file) */
const bytesOf = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Two checkpoints hold the same tensors bit for bit (weights, optimiser moments, kept copies). */
function expectSameTensors(a: string, b: string): void {
  const [x, y] = [loadCheckpoint<object>(a), loadCheckpoint<object>(b)];
  expect([...y.tensors.keys()]).to.deep.equal([...x.tensors.keys()]);
  for (const [name, t] of x.tensors) expect(bytesOf(y.tensors.get(name)!.values).equals(bytesOf(t.values)), name).to.equal(true);
}

/** Epoch records without what only describes the process that ran them (wall times, images trained there). */
const sameRun = (records: object[]): object[] => records.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !['seconds', 'trainSeconds', 'images', 'trainImages'].includes(k))));

/** Sets `signal.stop` after the `n`-th step. */
const stopAfter = (n: number): { signal: { stop: boolean }; events: { onStep(): void } } => {
  const signal = { stop: false };
  let steps = 0;
  return { signal, events: { onStep: () => void (++steps === n && (signal.stop = true)) } };
};

const raised = async (f: () => Promise<unknown>): Promise<string> => {
  try {
    await f();
  } catch (e) {
    expect(e).to.be.instanceOf(VitasError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('one training loop, for supernet training and retrain', () => {
  before(async () => {
    await initBackend();
  });
  // 80 training images in batches of 16: 5 steps an epoch; a stop after 7 steps is mid-epoch 2
  const data = splitValidation(syntheticDataset({ count: 96, shape: [8, 8, 1], classes: 4, seed: 1 }), 16, 0);
  const supernetRecipe = { epochs: 3, batch: 16, sampling: 'uniform' as const, warmupEpochs: 1, lr: 3e-3, seed: 5 };
  const spec = tinySpec({}, { recursion: 2, groups: [1, 2] });
  const retrainRecipe = { epochs: 3, batch: 16, warmupEpochs: 1, lr: 3e-3, dropPath: 0.2, seed: 1 };

  describe('a run stopped mid-epoch and resumed ends exactly as one that never stopped', () => {
    it('supernet training: the same per-step losses, epoch records and checkpoint tensors (weights and AdamW moments)', async () => {
      const whole = tmp('supernet-whole');
      const full = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, out: whole });
      const dir = tmp('supernet-cut');
      const first = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, out: dir, ...stopAfter(7) });
      expect(first.stopped).to.equal(true);
      expect(first.losses).to.have.length(7);
      first.supernet.dispose();
      const second = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, out: dir, resume: true });
      expect(first.losses.concat(second.losses)).to.deep.equal(full.losses);
      expect(sameRun(second.history)).to.deep.equal(sameRun(full.history));
      expectSameTensors(join(whole, 'supernet.ckpt'), join(dir, 'supernet.ckpt'));
      // the checkpoint loads back (through the same restore routine) as a supernet that scores alike
      const loaded = loadSupernet(tinySpace, join(dir, 'supernet.ckpt'));
      expect(evaluateSubnet(loaded, tinySpec(), data.val)).to.equal(evaluateSubnet(second.supernet, tinySpec(), data.val));
      loaded.dispose(); second.supernet.dispose(); full.supernet.dispose();
    });

    it('counts the time a stopped epoch ran before the stop in that epoch\'s wall time', async () => {
      const dir = tmp('supernet-seconds');
      (await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, out: dir, ...stopAfter(7) })).supernet.dispose();
      const path = join(dir, 'supernet.ckpt');
      const cut = loadCheckpoint<{ partial: { sum: number; n: number; seconds: number } }>(path);
      expect(cut.meta.partial.seconds).to.be.greaterThan(0);
      // as if the first two steps of epoch 2 had taken an hour
      saveCheckpoint(path, { ...cut.meta, partial: { ...cut.meta.partial, seconds: 3600 } }, cut.tensors);
      const second = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, out: dir, resume: true });
      const [e2, e3] = [second.history[1] as { seconds: number }, second.history[2] as { seconds: number }];
      expect(e2.seconds).to.be.greaterThan(3600);
      expect(e3.seconds).to.be.lessThan(3600); // a whole epoch after the resume carries nothing over
      second.supernet.dispose();
    });

    it('supernet training data-parallel over 2 threads: the same per-step losses', async () => {
      const full = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, threads: 2 });
      const dir = tmp('supernet-dp');
      const first = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, out: dir, threads: 2, ...stopAfter(7) });
      first.supernet.dispose();
      const second = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, out: dir, resume: true, threads: 2 });
      expect(first.losses.concat(second.losses)).to.deep.equal(full.losses);
      second.supernet.dispose(); full.supernet.dispose();
    });

    it('retrain (drop-path on): the same per-step losses, epoch records, checkpoint tensors and selected weights', async () => {
      const whole = tmp('retrain-whole');
      const full = await retrain({ spec, train: data.train, val: data.val, recipe: retrainRecipe, out: whole });
      const dir = tmp('retrain-cut');
      const first = await retrain({ spec, train: data.train, val: data.val, recipe: retrainRecipe, out: dir, ...stopAfter(7) });
      expect(first.stopped).to.equal(true);
      expect(first.losses).to.have.length(7);
      first.model.dispose();
      const second = await retrain({ spec, train: data.train, val: data.val, recipe: retrainRecipe, out: dir, resume: true });
      expect(first.losses.concat(second.losses)).to.deep.equal(full.losses);
      expect(sameRun(second.history)).to.deep.equal(sameRun(full.history));
      expect([second.bestEpoch, second.bestValAccuracy]).to.deep.equal([full.bestEpoch, full.bestValAccuracy]);
      expectSameTensors(join(whole, 'retrain.ckpt'), join(dir, 'retrain.ckpt'));
      for (const [k, v] of full.model.weights) expect(bytesOf(second.model.weights.get(k)!.dataSync()).equals(bytesOf(v.dataSync())), k).to.equal(true);
      full.model.dispose(); second.model.dispose();
    });

    it('a supernet checkpoint written before the loop was shared (the epoch\'s loss sum as epochLossSum, no partial, no norm) resumes to the same losses', async () => {
      const full = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe });
      const dir = tmp('supernet-old');
      const first = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, out: dir, ...stopAfter(7) });
      first.supernet.dispose();
      // rewrite the checkpoint's metadata as the old trainer wrote it
      const path = join(dir, 'supernet.ckpt');
      const ck = loadCheckpoint<{ partial?: { sum: number; n: number }; norm?: unknown }>(path);
      const { partial, norm: _, ...rest } = ck.meta;
      saveCheckpoint(path, { ...rest, epochLossSum: partial!.sum }, new Map([...ck.tensors].map(([k, t]) => [k, { shape: t.shape, values: Float32Array.from(t.values) }])));
      const logs: string[] = [];
      const second = await trainSupernet({ space: tinySpace, data, recipe: supernetRecipe, out: dir, resume: true, events: { onLog: (m) => void logs.push(m) } });
      expect(first.losses.concat(second.losses)).to.deep.equal(full.losses);
      expect(second.history.map((h) => h.meanLoss)).to.deep.equal(full.history.map((h) => h.meanLoss));
      // (synthetic images are generated normalised; real ones were normalised by the whole training file then)
      expect(logs).to.include('note: the checkpoint trained on images normalised with the whole training file\'s statistics (written before vitas normalised by the training split alone), these are normalised with mean 0, std 1: the run goes on, not bit for bit');
      second.supernet.dispose(); full.supernet.dispose();
    });
  });

  describe('a non-finite loss stops the run with one line naming the epoch, the step and the last good checkpoint', () => {
    it('supernet training without a run folder: nothing was saved', async () => {
      const message = await raised(() => trainSupernet({ space: tinySpace, data, recipe: { ...supernetRecipe, lr: 1e30, warmupEpochs: 0 } }));
      expect(message).to.match(/^supernet: loss became (NaN|Infinity|-Infinity) at epoch 1, step \d+ \(subnet [\d.]+M MACs\); stopped; no checkpoint \(no run folder\); try a lower --lr$/);
    });

    it('supernet training after a warm restart at lr 1e30: the checkpoint after epoch 1 is kept, untouched', async () => {
      const dir = tmp('supernet-nan');
      (await trainSupernet({ space: tinySpace, data, recipe: { ...supernetRecipe, epochs: 1 }, out: dir })).supernet.dispose();
      const before = readFileSync(join(dir, 'supernet.ckpt'));
      const message = await raised(() => trainSupernet({ space: tinySpace, data, recipe: { ...supernetRecipe, epochs: 2 }, out: dir, resume: true, resumeWith: { lr: 1e30 } }));
      expect(message).to.match(new RegExp(`^supernet: loss became (NaN|Infinity|-Infinity) at epoch 2, step \\d+ \\(subnet [\\d.]+M MACs\\); stopped; the last good checkpoint \\(after epoch 1\\) is kept at ${join(dir, 'supernet.ckpt')}; try a lower --lr$`));
      expect(readFileSync(join(dir, 'supernet.ckpt')).equals(before)).to.equal(true);
    });

    it('retrain resumed at lr 1e30 after a stop at epoch 2, step 2: that checkpoint is the one kept', async () => {
      const dir = tmp('retrain-nan');
      (await retrain({ spec, train: data.train, val: data.val, recipe: retrainRecipe, out: dir, ...stopAfter(7) })).model.dispose();
      const message = await raised(() => retrain({ spec, train: data.train, val: data.val, recipe: { ...retrainRecipe, lr: 1e30, warmupEpochs: 0 }, out: dir, resume: true }));
      expect(message).to.match(new RegExp(`^retrain: loss became (NaN|Infinity|-Infinity) at epoch 2, step \\d+; stopped; the last good checkpoint \\(epoch 2, step 2\\) is kept at ${join(dir, 'retrain.ckpt')}; try a lower --lr$`));
      expect(loadCheckpoint<{ epoch: number; step: number }>(join(dir, 'retrain.ckpt')).meta).to.include({ epoch: 1, step: 2 });
    });
  });

  it('reports the start, every step with the learning rate of the warm-up + cosine schedule, and every epoch — across a resume', async () => {
    const dir = tmp('events');
    const seen: string[] = [];
    const steps: StepEvent[] = [];
    const events = (signal?: { stop: boolean }, stopAt = 0) => ({
      onStart: (e: { startEpoch: number; startStep: number; stepsPerEpoch: number; epochs: number }) => void seen.push(`start ${e.startEpoch}:${e.startStep} of ${e.epochs}×${e.stepsPerEpoch}`),
      onStep: (e: StepEvent) => {
        steps.push(e);
        if (signal && steps.length === stopAt) signal.stop = true;
      },
      onEpoch: (e: { epoch: number }) => void seen.push(`epoch ${e.epoch}`),
    });
    const signal = { stop: false };
    (await retrain({ spec, train: data.train, val: data.val, recipe: retrainRecipe, out: dir, signal, events: events(signal, 7) })).model.dispose();
    (await retrain({ spec, train: data.train, val: data.val, recipe: retrainRecipe, out: dir, resume: true, events: events() })).model.dispose();
    expect(seen).to.deep.equal(['start 0:0 of 3×5', 'epoch 1', 'start 1:2 of 3×5', 'epoch 2', 'epoch 3']);
    expect(steps.map((s) => `${s.epoch}:${s.step}`)).to.deep.equal(Array.from({ length: 15 }, (_, i) => `${Math.floor(i / 5)}:${(i % 5) + 1}`));
    const schedule = { ...DEFAULT_RETRAIN, ...retrainRecipe };
    expect(steps.map((s) => s.lr)).to.deep.equal(steps.map((_, i) => learningRate(schedule, i, 5)));
  });

  it('writes supernet.ckpt and retrain.ckpt with their own metadata beside the loop\'s position (next epoch and step, records, the epoch in progress\'s loss sum)', async () => {
    const dir = tmp('meta');
    (await trainSupernet({ space: tinySpace, data, recipe: { ...supernetRecipe, epochs: 1 }, out: join(dir, 's') })).supernet.dispose();
    (await retrain({ spec, train: data.train, val: data.val, recipe: { ...retrainRecipe, epochs: 1 }, out: join(dir, 'r') })).model.dispose();
    const meta = (f: string): Record<string, unknown> => loadCheckpoint<Record<string, unknown>>(join(dir, f)).meta;
    expect(Object.keys(meta('s/supernet.ckpt')).sort()).to.deep.equal(['epoch', 'history', 'norm', 'pId', 'partial', 'recipe', 'space', 'stages', 'step', 'threads']);
    expect(Object.keys(meta('r/retrain.ckpt')).sort()).to.deep.equal(['best', 'epoch', 'history', 'partial', 'recipe', 'spec', 'step']);
    for (const f of ['s/supernet.ckpt', 'r/retrain.ckpt']) expect(meta(f)).to.deep.include({ epoch: 1, step: 0, partial: { sum: 0, n: 0 } });
  });

  describe('the learning rate (one schedule for both)', () => {
    const r = { lr: 1e-3, minLr: 1e-5, warmupEpochs: 1, epochs: 10 };
    it('warms up linearly, then follows a cosine to minLr', () => {
      expect(learningRate(r, 0, 100)).to.be.closeTo(1e-5, 1e-12);
      expect(learningRate(r, 99, 100)).to.be.closeTo(1e-3, 1e-12);
      expect(learningRate(r, 550, 100)).to.be.closeTo(1e-5 + 0.5 * (1e-3 - 1e-5), 1e-12);
      expect(learningRate(r, 1000, 100)).to.be.closeTo(1e-5, 1e-12);
    });
    it('after a warm restart, runs a new cosine from the restart lr to minLr at the last epoch', () => {
      const restarted = { ...r, epochs: 14, restart: { step: 1100, lr: 5e-4 } };
      expect(learningRate(restarted, 1099, 100)).to.equal(learningRate({ ...r, epochs: 14 }, 1099, 100));
      expect(learningRate(restarted, 1100, 100)).to.be.closeTo(5e-4, 1e-12);
      expect(learningRate(restarted, 1250, 100)).to.be.closeTo(1e-5 + 0.5 * (5e-4 - 1e-5), 1e-12);
      expect(learningRate(restarted, 1400, 100)).to.be.closeTo(1e-5, 1e-12);
    });
  });
});
