import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  initBackend, retrain, saveModel, loadModel, buildModel, syntheticDataset, splitValidation, evaluateModel, evaluationMarkdown, runRetrain, runEval, loadData, dataConfig, type ArchSpec,
} from '../src/index.js';
import { tf } from '../src/backend/index.js';
import { fixture, tinySpec } from './helpers.js';

describe('retrain and eval', () => {
  before(async () => {
    await initBackend();
  });
  const data = splitValidation(syntheticDataset({ count: 96, shape: [8, 8, 1], classes: 4, seed: 2 }), 16, 0);
  const testSet = syntheticDataset({ count: 40, shape: [8, 8, 1], classes: 4, seed: 3 });
  const spec = tinySpec({}, { recursion: 2, groups: [1, 2] });
  const recipe = { epochs: 3, batch: 16, warmupEpochs: 1, lr: 3e-3, dropPath: 0.2, seed: 1 };

  it('loads a saved model back with identical logits, and plain tf.io can decode its weights', () => {
    const model = buildModel(spec, 4);
    const dir = mkdtempSync(join(tmpdir(), 'vitas-model-'));
    saveModel(dir, model, { generatedBy: 'test' });
    const { model: back, json } = loadModel(dir);
    tf.tidy(() => {
      const x = tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
      expect(Array.from(back.forward(x).dataSync())).to.deep.equal(Array.from(model.forward(x).dataSync()));
    });
    const buf = readFileSync(join(dir, 'weights.bin'));
    const named = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length), json.weightsManifest[0]!.weights);
    expect(Object.keys(named)).to.include('blocks.0.nll1.fc1.w');
    Object.values(named).forEach((t) => t.dispose());
    model.dispose();
    back.dispose();
  });

  it('never reads the test split before its final evaluation', async () => {
    const events: string[] = [];
    const r = await retrain({
      spec, train: data.train, val: data.val, recipe,
      test: () => {
        events.push('test read');
        return testSet;
      },
      events: { onEpoch: (e) => events.push(`epoch ${e.epoch}`) },
    });
    expect(events).to.deep.equal(['epoch 1', 'epoch 2', 'epoch 3', 'test read']);
    expect(r.test!.count).to.equal(40);
    expect(r.history).to.have.length(3);
    expect(r.bestValAccuracy).to.equal(Math.max(...r.history.map((h) => h.valAccuracy)));
    // model selection: the returned weights are the best validation epoch's
    expect(evaluateModel(r.model, data.val).top1).to.equal(r.bestValAccuracy);
    r.model.dispose();
  });

  it('records the normalisation it trained with in model.json, and vitas eval normalises the same way', async () => {
    const FM = fixture('fashion-mnist-mini');
    const dir = mkdtempSync(join(tmpdir(), 'vitas-norm-'));
    const small = { version: 1, input: [28, 28, 1], classes: 10, patch: 7, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls', blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 24, mlp: 16 }] } as ArchSpec;
    const r = await runRetrain({ spec: small, data: FM, validation: 100, epochs: 1, recipe: { batch: 50 }, out: dir, version: 'test' });
    r.model.dispose();
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { norm?: { mean: number; std: number } };
    expect(json.norm).to.deep.equal(loadData(dataConfig(FM, 100)).train.norm);
    expect(runEval({ modelDir: dir, data: FM, split: 'val', validation: 100 }).evaluation.top1).to.equal(r.bestValAccuracy);
    // a model saved before vitas recorded it: normalised as vitas trained then (the whole training file), with a warning
    delete json.norm;
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    const warnings: string[] = [];
    const keep = console.error;
    console.error = (...a: unknown[]): void => void warnings.push(a.join(' '));
    try {
      runEval({ modelDir: dir, data: FM, split: 'val', validation: 100 });
    } finally {
      console.error = keep;
    }
    expect(warnings).to.deep.equal([`vitas: warning: ${join(dir, 'model.json')}: no norm (saved before vitas recorded it): images normalised with the statistics of the whole training file, as vitas trained then`]);
  });

  it('reports top-1, top-5, per-class accuracy and a confusion matrix', () => {
    // 12 classes, so that top-5 is not trivially 1; batches of 7 (the last one partial) against one forward of all 60 images
    const spec12: ArchSpec = { ...spec, classes: 12 };
    const images = syntheticDataset({ count: 60, shape: [8, 8, 1], classes: 12, seed: 3 });
    const model = buildModel(spec12, 0);
    const e = evaluateModel(model, images, 'test', 7);
    const logits = tf.tidy(() => model.forward(tf.tensor4d(images.images, [60, 8, 8, 1])).arraySync() as number[][]);
    const confusion = Array.from({ length: 12 }, () => new Array<number>(12).fill(0));
    let inTop5 = 0;
    logits.forEach((row, i) => {
      const truth = images.labels[i]!;
      const ranked = row.map((v, j) => [v, j] as const).sort((a, b) => b[0] - a[0]).map(([, j]) => j);
      confusion[truth]![ranked[0]!]!++;
      if (ranked.slice(0, 5).includes(truth)) inTop5++;
    });
    expect(e.confusion).to.deep.equal(confusion);
    expect(e.top1).to.equal(confusion.reduce((a, r, i) => a + r[i]!, 0) / 60);
    expect(e.top5).to.equal(inTop5 / 60);
    expect(e.top5).to.be.below(1);
    expect(e.perClass).to.deep.equal(confusion.map((r, i) => r[i]! / r.reduce((a, v) => a + v, 0)));
    expect(evaluationMarkdown(e)).to.match(/top-1 \*\*[\d.]+ %\*\*[\s\S]*Confusion matrix/);
    model.dispose();
  });
});
