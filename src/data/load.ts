/** Named datasets and the `data` section of a search definition → train / val (/ test) splits. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VitasError } from '../errors.js';
import { readCifar, readCifarRaw } from './cifar.js';
import { pixelStats, splitAndNormalise, splitValidation, syntheticDataset, type Dataset, type Norm, type RawImages, type Splits } from './dataset.js';
import { readImageFolder, readImageFolderRaw } from './folder.js';
import { readIdxPair, readIdxPairRaw } from './idx.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export interface DataConfig {
  /** fashion-mnist | mnist | cifar10 | cifar100 | folder | synthetic */
  dataset: string;
  /** directory holding the files (default for fashion-mnist: the Debian package's) */
  dir?: string;
  /** images carved from the training set for validation */
  validation: number;
  /** use only the first N training images (quick runs) */
  limit?: number;
  /** folder datasets: resize to this (square) */
  size?: number;
  channels?: 1 | 3;
  /** synthetic only: number of classes (10) */
  classes?: number;
  seed?: number;
}

export const DATASETS = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'folder', 'synthetic'] as const;

function need(dir: string | undefined, dataset: string, hint: string): string {
  if (!dir || !existsSync(dir)) throw new VitasError(`data: dataset "${dataset}" not found${dir ? ` in ${dir}` : ''}; ${hint}`);
  return dir;
}

/** Where loadData's normalisation comes from: the training split's statistics unless told otherwise. */
export type NormFrom = Norm | 'training-file';

/**
 * Load train (with a seeded, stratified validation split carved out) and, when `withTest`, the
 * test split, all normalised with the statistics of the training split alone — or with
 * `opts.norm`: a saved model's, or `'training-file'`, every image of the training file (how vitas
 * normalised before it recorded the statistics in saved models). `validationFrom` names where
 * `cfg.validation` came from in an error (`--validation`, or a definition file's `data.validation`).
 */
export function loadData(cfg: DataConfig, opts: { withTest?: boolean; validationFrom?: string; norm?: NormFrom } = {}): Splits {
  let raw: RawImages;
  let readTest: ((norm: Norm) => Dataset) | undefined;
  switch (cfg.dataset) {
    case 'fashion-mnist':
    case 'mnist': {
      const fm = cfg.dataset === 'fashion-mnist';
      const dir = need(
        cfg.dir ?? (fm ? FASHION_MNIST_DIR : undefined),
        cfg.dataset,
        fm ? `install it with "sudo apt-get install dataset-fashion-mnist" (files in ${FASHION_MNIST_DIR}) or pass --data DIR holding train-images-idx3-ubyte.gz etc.` : 'pass --data DIR holding train-images-idx3-ubyte(.gz) and the label files',
      );
      const classNames = fm ? FASHION_MNIST_CLASSES : undefined;
      const base = { flip: fm, ...(classNames ? { classNames } : {}) };
      raw = readIdxPairRaw(dir, 'train', cfg.dataset, 10, { ...base, ...(cfg.limit ? { limit: cfg.limit } : {}) });
      readTest = (norm) => readIdxPair(dir, 't10k', `${cfg.dataset}/test`, 10, { ...base, norm });
      break;
    }
    case 'cifar10':
    case 'cifar100': {
      const v = cfg.dataset === 'cifar10' ? 10 : 100;
      const dir = need(cfg.dir, cfg.dataset, `pass --data DIR holding the CIFAR-${v} binary files`);
      const trainFiles = v === 10 ? [1, 2, 3, 4, 5].map((i) => join(dir, `data_batch_${i}.bin`)) : [join(dir, 'train.bin')];
      raw = readCifarRaw(trainFiles, { variant: v });
      readTest = (norm) => readCifar([join(dir, v === 10 ? 'test_batch.bin' : 'test.bin')], { variant: v, name: `cifar-${v}/test`, norm });
      break;
    }
    case 'folder': {
      const dir = need(cfg.dir, 'folder', 'pass --data DIR with one sub-folder of images per class');
      const size = cfg.size ?? 32;
      const trainDir = existsSync(join(dir, 'train')) ? join(dir, 'train') : dir;
      raw = readImageFolderRaw(trainDir, { size: [size, size], channels: cfg.channels ?? 3 });
      if (existsSync(join(dir, 'test'))) readTest = (norm) => readImageFolder(join(dir, 'test'), { size: [size, size], channels: cfg.channels ?? 3, norm });
      break;
    }
    case 'synthetic': {
      // generated as normalised floats (mean 0, std 1 by construction): no pixels, no statistics
      const shape: [number, number, number] = [cfg.size ?? 28, cfg.size ?? 28, cfg.channels ?? 1];
      const classes = cfg.classes ?? 10;
      const train = syntheticDataset({ count: cfg.limit ?? 2000, seed: cfg.seed ?? 0, shape, classes });
      checkValidation(cfg, train.count, opts.validationFrom);
      const out: Splits = splitValidation(train, cfg.validation, cfg.seed ?? 0);
      if (opts.withTest) out.test = syntheticDataset({ count: 500, seed: `${cfg.seed ?? 0}-test`, shape, classes });
      return out;
    }
    default:
      throw new VitasError(`data.dataset: "${cfg.dataset}" is not a dataset; allowed: ${DATASETS.join(', ')}`);
  }
  checkValidation(cfg, raw.labels.length, opts.validationFrom);
  const norm = opts.norm === 'training-file' ? pixelStats(raw.pixels) : opts.norm;
  const out: Splits = splitAndNormalise(raw, cfg.validation, cfg.seed ?? 0, norm);
  if (opts.withTest && readTest) out.test = readTest(out.train.norm);
  return out;
}

function checkValidation(cfg: DataConfig, count: number, from = 'data.validation'): void {
  if (cfg.validation <= 0 || cfg.validation >= count) throw new VitasError(`${from}: ${cfg.validation} must be between 1 and ${count - 1} (the training images)`);
}
