/** In-memory image classification datasets: NHWC float32 images (normalised) and int labels. */
import { Rng } from '../space/rng.js';

/** Pixel normalisation: x = (pixel / 255 − mean) / std. */
export interface Norm {
  mean: number;
  std: number;
}

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
  norm: Norm;
  classNames?: string[];
}

/** Images as their files hold them: uint8 pixels (count × h × w × c, not yet normalised) and labels. */
export interface RawImages {
  name: string;
  pixels: Uint8Array;
  labels: Int32Array;
  shape: [number, number, number];
  classes: number;
  flip: boolean;
  classNames?: string[];
}

export interface Splits {
  train: Dataset;
  val: Dataset;
  /** only read by a final evaluation; search never touches it */
  test?: Dataset;
}

/** Mean and standard deviation of pixel / 255 over `pixels`. */
export function pixelStats(pixels: Uint8Array): Norm {
  let s = 0, s2 = 0;
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i]! / 255;
    s += v;
    s2 += v * v;
  }
  const mean = s / pixels.length;
  return { mean, std: Math.sqrt(Math.max(s2 / pixels.length - mean * mean, 1e-12)) };
}

/** Raw images → a dataset of normalised floats (with `norm`, or their own statistics). */
export function normalise(raw: RawImages, norm: Norm = pixelStats(raw.pixels)): Dataset {
  const { pixels } = raw;
  const images = new Float32Array(pixels.length);
  const inv = 1 / norm.std;
  for (let i = 0; i < pixels.length; i++) images[i] = (pixels[i]! / 255 - norm.mean) * inv;
  const out: Dataset = { name: raw.name, images, labels: raw.labels, count: raw.labels.length, shape: raw.shape, classes: raw.classes, flip: raw.flip, norm };
  if (raw.classNames) out.classNames = raw.classNames;
  return out;
}

/** Raw uint8 pixels → normalised floats (mean/std from `opts.norm`, or from these pixels). */
export function fromBytes(name: string, pixels: Uint8Array, labels: Int32Array, shape: [number, number, number], classes: number, opts: { flip: boolean; norm?: Norm; classNames?: string[] }): Dataset {
  return normalise({ name, pixels, labels, shape, classes, flip: opts.flip, ...(opts.classNames ? { classNames: opts.classNames } : {}) }, opts.norm);
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

/** A subset of raw images by indices (copies). */
export function subsetRaw(raw: RawImages, indices: ArrayLike<number>, name = raw.name): RawImages {
  const size = raw.shape[0] * raw.shape[1] * raw.shape[2];
  const pixels = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    pixels.set(raw.pixels.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = raw.labels[i]!;
  }
  return { ...raw, name, pixels, labels };
}

/** Which images a validation split takes (seeded, stratified by class; it depends on the labels alone), each list ascending. */
export function validationIndices(labels: Int32Array, classes: number, valCount: number, seed: string | number): { train: number[]; val: number[] } {
  const rng = new Rng(`split:${seed}`);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]!]!.push(i);
  const val: number[] = [];
  const rest: number[] = [];
  const frac = valCount / labels.length;
  for (const idx of byClass) {
    rng.shuffle(idx);
    const k = Math.round(idx.length * frac);
    val.push(...idx.slice(0, k));
    rest.push(...idx.slice(k));
  }
  val.sort((a, b) => a - b);
  rest.sort((a, b) => a - b);
  return { train: rest, val };
}

/** Carve a validation split out of a (normalised) training set (seeded, stratified by class). */
export function splitValidation(train: Dataset, valCount: number, seed: string | number): { train: Dataset; val: Dataset } {
  const at = validationIndices(train.labels, train.classes, valCount, seed);
  return { train: subset(train, at.train, `${train.name}/train`), val: subset(train, at.val, `${train.name}/val`) };
}

/**
 * Carve the validation split out of raw training images, then normalise both with the statistics
 * of the training split alone (or with `norm`): nothing about the validation images leaks into training.
 */
export function splitAndNormalise(raw: RawImages, valCount: number, seed: string | number, norm?: Norm): { train: Dataset; val: Dataset } {
  const at = validationIndices(raw.labels, raw.classes, valCount, seed);
  const train = subsetRaw(raw, at.train, `${raw.name}/train`);
  const stats = norm ?? pixelStats(train.pixels);
  return { train: normalise(train, stats), val: normalise(subsetRaw(raw, at.val, `${raw.name}/val`), stats) };
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
