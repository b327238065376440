/** `vitas retrain` and `vitas eval` as library calls. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadData, DATASETS, type DataConfig } from '../data/load.js';
import { warn, writeAtomic } from '../io.js';
import { costOf } from '../space/cost.js';
import { loadSpace } from '../space/load.js';
import type { ArchSpec } from '../space/spec.js';
import { loadSupernet } from '../supernet/trainer.js';
import type { TrainEvents } from '../train/events.js';
import { readJson } from '../io.js';
import { evaluateModel, evaluationMarkdown, type Evaluation } from './evaluate.js';
import { calibrationImages } from '../supernet/batchnorm.js';
import { extractSubnet } from './model.js';
import { retrain, type RetrainEpoch, type RetrainRecipe, type RetrainResult } from './retrain.js';
import { loadModel, saveModel } from './save.js';
import { VitasError } from '../errors.js';
import { prepareRunFolder } from '../run-folder.js';

/** `--data NAME|DIR` → a data config: a dataset name, or a folder (IDX, CIFAR binary or image folders, by what it holds). */
export function dataConfig(data: string, validation = 5000, seed = 0, limit?: number): DataConfig {
  const cfg = dataConfigOf(data, validation, seed);
  return limit ? { ...cfg, limit } : cfg;
}

function dataConfigOf(data: string, validation: number, seed: number): DataConfig {
  if ((DATASETS as readonly string[]).includes(data)) return { dataset: data, validation, seed };
  if (!existsSync(data)) throw new VitasError(`--data: "${data}" is neither a dataset (${DATASETS.join(', ')}) nor a folder`);
  const files = readdirSync(data);
  if (files.some((f) => f.startsWith('train-images-idx3-ubyte'))) return { dataset: 'fashion-mnist', dir: data, validation, seed };
  if (files.includes('data_batch_1.bin')) return { dataset: 'cifar10', dir: data, validation, seed };
  if (files.includes('train.bin')) return { dataset: 'cifar100', dir: data, validation, seed };
  return { dataset: 'folder', dir: data, validation, seed };
}

/** A folder holding one of these holds a retrain run; `--force` removes all the outputs first. */
export const RETRAIN_MARKERS = ['model.json', 'retrain.ckpt'];
export const RETRAIN_OUTPUTS = ['model.json', 'weights.bin', 'results.json', 'test.md', 'retrain.ckpt'];

export interface RetrainRunOptions {
  spec: ArchSpec;
  data: string;
  validation?: number;
  /** read only the first N images of the training file (the validation split is carved from them) */
  limit?: number;
  epochs?: number;
  recipe?: Partial<RetrainRecipe>;
  out: string;
  resume?: boolean;
  /** start over in a folder that holds a retrain run (its outputs are removed first) */
  force?: boolean;
  /** the spec's file, named in errors */
  specFile?: string;
  /** a supernet run folder (supernet.ckpt) whose weights the model starts from */
  initFromSupernet?: string;
  /** the supernet's space (default: read from the run folder's config.json) */
  space?: string;
  version: string;
  events?: TrainEvents & { onValidation?(e: RetrainEpoch): void; onLog?(m: string): void };
  signal?: { stop: boolean };
}

export async function runRetrain(o: RetrainRunOptions): Promise<RetrainResult & { out: string }> {
  const where = o.specFile ?? 'spec';
  prepareRunFolder({ dir: o.out, what: 'retrain run', markers: RETRAIN_MARKERS, outputs: RETRAIN_OUTPUTS, ...(o.resume ? { resume: true } : {}), ...(o.force ? { force: true } : {}) });
  const cfg = dataConfig(o.data, o.validation, 0, o.limit);
  const splits = loadData(cfg, { validationFrom: '--validation' }); // train + validation only: the test split is read after training
  let init;
  if (o.initFromSupernet) {
    const dir = o.initFromSupernet;
    const ckpt = existsSync(join(dir, 'supernet.ckpt')) ? join(dir, 'supernet.ckpt') : dir;
    const spaceName = o.space ?? ((readJson(join(dir, 'config.json'), 'supernet run config') as { definition?: { space?: string } }).definition?.space ?? 'fmnist');
    const net = loadSupernet(loadSpace(spaceName), ckpt);
    // the inherited BatchNorm statistics are recalibrated for this subnet on training images first
    init = extractSubnet(net, o.spec, 'left', calibrationImages(splits.train));
    net.dispose();
  }
  const r = await retrain({
    spec: o.spec,
    train: splits.train,
    val: splits.val,
    test: () => {
      o.events?.onLog?.('training done: evaluating the test split once');
      return loadData(cfg, { withTest: true }).test!;
    },
    recipe: { ...o.recipe, ...(o.epochs ? { epochs: o.epochs } : {}) },
    ...(init ? { init } : {}),
    out: o.out,
    resume: o.resume ?? false,
    where,
    ...(o.events ? { events: o.events } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!r.stopped) {
    const results = { bestEpoch: r.bestEpoch, valAccuracy: r.bestValAccuracy, testAccuracy: r.test?.top1, testTop5: r.test?.top5, macs: costOf(o.spec).macs, params: costOf(o.spec).params, trainImagesPerSecond: trainingThroughput(r.history), history: r.history, initFromSupernet: o.initFromSupernet ?? null };
    saveModel(o.out, r.model, { generatedBy: `vitas ${o.version}`, results, norm: splits.train.norm });
    writeAtomic(join(o.out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
    if (r.test) writeAtomic(join(o.out, 'test.md'), evaluationMarkdown(r.test, splits.train.classNames));
  }
  return { ...r, out: o.out };
}

/** A saved model's top-1 etc. on a split, its images normalised exactly as in its training (model.json's `norm`). */
export function runEval(o: { modelDir: string; data: string; split: 'test' | 'val'; validation?: number }): { evaluation: Evaluation; markdown: string } {
  const { model, json } = loadModel(o.modelDir);
  if (!json.norm) warn(`${join(o.modelDir, 'model.json')}: no norm (saved before vitas recorded it): images normalised with the statistics of the whole training file, as vitas trained then`);
  // the test split depends on the validation carve-out only through the normalisation, which the model carries
  const cfg = dataConfig(o.data, o.validation ?? (o.split === 'test' && json.norm ? 1 : undefined));
  const splits = loadData(cfg, { withTest: o.split === 'test', validationFrom: '--validation', norm: json.norm ?? 'training-file' });
  const ds = o.split === 'test' ? splits.test : splits.val;
  if (!ds) throw new VitasError(`--split test: the dataset has no test split`);
  const evaluation = evaluateModel(model, ds, o.split);
  model.dispose();
  return { evaluation, markdown: evaluationMarkdown(evaluation, splits.train.classNames) };
}

/** Training images per second over the epochs' training steps (validation and checkpoints excluded). */
export function trainingThroughput(history: readonly RetrainEpoch[]): number | undefined {
  let images = 0;
  let seconds = 0;
  for (const e of history) {
    images += e.trainImages ?? 0;
    seconds += e.trainSeconds ?? 0;
  }
  return seconds > 0 ? images / seconds : undefined;
}
