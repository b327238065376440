/** What every training here shares (supernet training and retraining): the recipe and its learning-rate schedule. */
import type { Augment } from '../data/batches.js';

/** AdamW, warm-up + cosine, label smoothing, augmentation. */
export interface TrainingRecipe {
  epochs: number;
  batch: number;
  lr: number;
  minLr: number;
  weightDecay: number;
  warmupEpochs: number;
  labelSmoothing: number;
  augment: Augment;
  seed: number;
}

/** DESIGN §5: AdamW lr 1e-3, weight decay 0.05, warm-up then cosine, label smoothing 0.1. */
export const DEFAULT_TRAINING: TrainingRecipe = {
  epochs: 10,
  batch: 64,
  lr: 1e-3,
  minLr: 1e-5,
  weightDecay: 0.05,
  warmupEpochs: 1,
  labelSmoothing: 0.1,
  augment: { crop: 2, flip: true },
  seed: 0,
};

/** A warm restart (written by a resumed stage): from global step `step` a new cosine from `lr` down to `minLr`. */
export interface LrRestart {
  step: number;
  lr: number;
}

/** What the learning rate of a step depends on. */
export type Schedule = Pick<TrainingRecipe, 'lr' | 'minLr' | 'warmupEpochs' | 'epochs'> & { restart?: LrRestart };

/** Linear warm-up to `lr`, then cosine down to `minLr`, per step; after a restart, a new cosine from the restart's lr. */
export function learningRate(r: Schedule, globalStep: number, stepsPerEpoch: number): number {
  const warm = r.warmupEpochs * stepsPerEpoch;
  const total = r.epochs * stepsPerEpoch;
  // cosine from `peak` at step `start` down to minLr at the last step
  const cosine = (peak: number, start: number): number => {
    const progress = Math.min(1, (globalStep - start) / Math.max(1, total - start));
    return r.minLr + 0.5 * (peak - r.minLr) * (1 + Math.cos(Math.PI * progress));
  };
  if (r.restart && globalStep >= r.restart.step) return cosine(r.restart.lr, r.restart.step);
  if (globalStep < warm) return (r.lr * (globalStep + 1)) / warm;
  return cosine(r.lr, warm);
}
