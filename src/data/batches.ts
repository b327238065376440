/** Seeded shuffling, augmentation (random crop with padding, horizontal flip where it keeps the class) and batching. */
import { Rng } from '../space/rng.js';
import type { Dataset } from './dataset.js';

export interface Augment {
  /** pixels of padding for random crops (0 = none) */
  crop: number;
  /** random horizontal flips (only applied where the dataset allows) */
  flip: boolean;
}

export interface Batch {
  x: Float32Array;
  y: Int32Array;
  size: number;
}

export const NO_AUGMENT: Augment = { crop: 0, flip: false };

/** One epoch of batches in a seeded order; the last partial batch is dropped when `dropLast`. */
export function* epochBatches(ds: Dataset, batch: number, rng: Rng, aug: Augment = NO_AUGMENT, dropLast = true): Generator<Batch> {
  const order = rng.shuffle(Array.from({ length: ds.count }, (_, i) => i));
  const end = dropLast ? ds.count - (ds.count % batch) : ds.count;
  for (let s = 0; s < end; s += batch) yield makeBatch(ds, order.slice(s, Math.min(s + batch, end)), rng, aug);
}

/** Batches in dataset order, no augmentation (evaluation), of the first `limit` images (all by default). */
export function* orderedBatches(ds: Dataset, batch: number, limit = ds.count): Generator<Batch> {
  const end = Math.min(limit, ds.count);
  for (let s = 0; s < end; s += batch) {
    const idx = Array.from({ length: Math.min(batch, end - s) }, (_, i) => s + i);
    yield makeBatch(ds, idx, undefined, NO_AUGMENT);
  }
}

export function batchesPerEpoch(ds: Dataset, batch: number): number {
  return Math.floor(ds.count / batch);
}

function makeBatch(ds: Dataset, idx: number[], rng: Rng | undefined, aug: Augment): Batch {
  const [h, w, c] = ds.shape;
  const size = h * w * c;
  const x = new Float32Array(idx.length * size);
  const y = new Int32Array(idx.length);
  // padding takes the value of a black (raw 0) pixel after normalisation
  const padValue = -ds.norm.mean / ds.norm.std;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k]!;
    y[k] = ds.labels[i]!;
    const src = ds.images.subarray(i * size, (i + 1) * size);
    const dst = x.subarray(k * size, (k + 1) * size);
    const crop = rng && aug.crop > 0;
    const flip = rng && aug.flip && ds.flip && rng.next() < 0.5;
    if (!crop && !flip) {
      dst.set(src);
      continue;
    }
    const dy = crop ? rng.int(2 * aug.crop + 1) - aug.crop : 0;
    const dx = crop ? rng.int(2 * aug.crop + 1) - aug.crop : 0;
    for (let r = 0; r < h; r++) {
      const sr = r + dy;
      for (let col = 0; col < w; col++) {
        const sc0 = col + dx;
        const sc = flip ? w - 1 - sc0 : sc0;
        const inside = sr >= 0 && sr < h && sc0 >= 0 && sc0 < w;
        for (let ch = 0; ch < c; ch++) dst[(r * w + col) * c + ch] = inside ? src[(sr * w + sc) * c + ch]! : padValue;
      }
    }
  }
  return { x, y, size: idx.length };
}
