/** Named datasets and the `data` section of a search definition → train / val (/ test) splits. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VitasError } from '../space/errors.js';
import { readCifar } from './cifar.js';
import { splitValidation, syntheticDataset, type Dataset, type Splits } from './dataset.js';
import { readImageFolder } from './folder.js';
import { readIdxPair } from './idx.js';

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

/**
 * Load train (with a seeded, stratified validation split carved out) and, when `withTest`, the
 * test split. Normalisation statistics come from the training images only.
 */
/** `validationFrom` names where `cfg.validation` came from in an error (`--validation`, or a definition file's `data.validation`). */
export function loadData(cfg: DataConfig, opts: { withTest?: boolean; validationFrom?: string } = {}): Splits {
  let train: Dataset;
  let test: (() => Dataset) | undefined;
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
      train = readIdxPair(dir, 'train', cfg.dataset, 10, { ...base, ...(cfg.limit ? { limit: cfg.limit } : {}) });
      test = () => readIdxPair(dir, 't10k', `${cfg.dataset}/test`, 10, { ...base, norm: train.norm });
      break;
    }
    case 'cifar10':
    case 'cifar100': {
      const v = cfg.dataset === 'cifar10' ? 10 : 100;
      const dir = need(cfg.dir, cfg.dataset, `pass --data DIR holding the CIFAR-${v} binary files`);
      const trainFiles = v === 10 ? [1, 2, 3, 4, 5].map((i) => join(dir, `data_batch_${i}.bin`)) : [join(dir, 'train.bin')];
      train = readCifar(trainFiles, { variant: v });
      test = () => readCifar([join(dir, v === 10 ? 'test_batch.bin' : 'test.bin')], { variant: v, name: `cifar-${v}/test`, norm: train.norm });
      break;
    }
    case 'folder': {
      const dir = need(cfg.dir, 'folder', 'pass --data DIR with one sub-folder of images per class');
      const size = cfg.size ?? 32;
      const trainDir = existsSync(join(dir, 'train')) ? join(dir, 'train') : dir;
      train = readImageFolder(trainDir, { size: [size, size], channels: cfg.channels ?? 3 });
      if (existsSync(join(dir, 'test'))) test = () => readImageFolder(join(dir, 'test'), { size: [size, size], channels: cfg.channels ?? 3, norm: train.norm });
      break;
    }
    case 'synthetic': {
      const shape: [number, number, number] = [cfg.size ?? 28, cfg.size ?? 28, cfg.channels ?? 1];
      const classes = cfg.classes ?? 10;
      train = syntheticDataset({ count: cfg.limit ?? 2000, seed: cfg.seed ?? 0, shape, classes });
      test = () => syntheticDataset({ count: 500, seed: `${cfg.seed ?? 0}-test`, shape, classes });
      break;
    }
    default:
      throw new VitasError(`data.dataset: "${cfg.dataset}" is not a dataset; allowed: ${DATASETS.join(', ')}`);
  }
  if (cfg.validation <= 0 || cfg.validation >= train.count) throw new VitasError(`${opts.validationFrom ?? 'data.validation'}: ${cfg.validation} must be between 1 and ${train.count - 1} (the training images)`);
  const { train: tr, val } = splitValidation(train, cfg.validation, cfg.seed ?? 0);
  const out: Splits = { train: tr, val };
  if (opts.withTest && test) out.test = test();
  return out;
}
