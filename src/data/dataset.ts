/** In-memory image classification datasets: NHWC float32 images (normalised) and int labels. */
import { Rng } from '../space/rng.js';

export interface Dataset {
  name: string;
  /** count × h × w × c, normalised with `norm` */
  images: Float32Array;
  labels: Int32Array;
  count: number;
  shape: [number, number, number];
  classes: number;
  /** whether a horizontal flip keeps the class (clothes yes, digits no) */
  flip: boolean;
  norm: { mean: number; std: number };
  classNames?: string[];
}

export interface Splits {
  train: Dataset;
  val: Dataset;
  /** only read by a final evaluation; search never touches it */
  test?: Dataset;
}

/** Raw uint8 pixels → normalised floats (mean/std from `stats`, or from these pixels). */
export function fromBytes(
  name: string,
  pixels: Uint8Array,
  labels: Int32Array,
  shape: [number, number, number],
  classes: number,
  opts: { flip: boolean; norm?: { mean: number; std: number }; classNames?: string[] },
): Dataset {
  let norm = opts.norm;
  if (!norm) {
    let s = 0, s2 = 0;
    for (let i = 0; i < pixels.length; i++) {
      const v = pixels[i]! / 255;
      s += v;
      s2 += v * v;
    }
    const mean = s / pixels.length;
    norm = { mean, std: Math.sqrt(Math.max(s2 / pixels.length - mean * mean, 1e-12)) };
  }
  const images = new Float32Array(pixels.length);
  const inv = 1 / norm.std;
  for (let i = 0; i < pixels.length; i++) images[i] = (pixels[i]! / 255 - norm.mean) * inv;
  const out: Dataset = { name, images, labels, count: labels.length, shape, classes, flip: opts.flip, norm };
  if (opts.classNames) out.classNames = opts.classNames;
  return out;
}

/** A subset by indices (copies). */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i]!;
  }
  return { ...ds, name, images, labels, count: indices.length };
}

/** Carve a validation split out of the training set (seeded, stratified by class). */
export function splitValidation(train: Dataset, valCount: number, seed: string | number): { train: Dataset; val: Dataset } {
  const rng = new Rng(`split:${seed}`);
  const byClass: number[][] = Array.from({ length: train.classes }, () => []);
  for (let i = 0; i < train.count; i++) byClass[train.labels[i]!]!.push(i);
  const val: number[] = [];
  const rest: number[] = [];
  const frac = valCount / train.count;
  for (const idx of byClass) {
    rng.shuffle(idx);
    const k = Math.round(idx.length * frac);
    val.push(...idx.slice(0, k));
    rest.push(...idx.slice(k));
  }
  val.sort((a, b) => a - b);
  rest.sort((a, b) => a - b);
  return { train: subset(train, rest, `${train.name}/train`), val: subset(train, val, `${train.name}/val`) };
}

/** Class-dependent patterns plus noise: learnable, deterministic, no download (for tests). */
export function syntheticDataset(opts: { count: number; shape?: [number, number, number]; classes?: number; seed?: string | number; noise?: number }): Dataset {
  const shape = opts.shape ?? [28, 28, 1];
  const classes = opts.classes ?? 10;
  const rng = new Rng(`synthetic:${opts.seed ?? 0}`);
  const size = shape[0] * shape[1] * shape[2];
  const templates = Array.from({ length: classes }, () => Float32Array.from({ length: size }, () => rng.normal()));
  const images = new Float32Array(opts.count * size);
  const labels = new Int32Array(opts.count);
  const noise = opts.noise ?? 1;
  for (let i = 0; i < opts.count; i++) {
    const c = i % classes;
    labels[i] = c;
    const t = templates[c]!;
    for (let j = 0; j < size; j++) images[i * size + j] = t[j]! + noise * rng.normal();
  }
  return { name: 'synthetic', images, labels, count: opts.count, shape, classes, flip: false, norm: { mean: 0, std: 1 } };
}
