/**
 * The up-front memory guard: refuse a training run that cannot fit, before it allocates anything,
 * with advice that passes this same check. On wasm every tensor lives in one heap that tfjs-wasm
 * grows on demand up to emscripten's maximum (getHeapMax(): 4 GiB − 64 KiB) and never shrinks;
 * past it XNNPACK fails ("status 6") or a kernel reads out of bounds. The optimiser's state is plain
 * JS arrays, outside that heap but inside the machine's memory.
 */
import { totalmem } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../errors.js';
import { activationFloats } from '../space/operators/network.js';
import { paramList } from '../space/params.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { supernetShapes, type SupernetOptions } from './supernet.js';

/** tfjs-wasm's heap maximum (its emscripten build's getHeapMax()). */
export const WASM_HEAP_BYTES = 4294901760;
/** what a step may plan on: the factors below are measured peaks, this leaves room for the data and tfjs's own buffers */
export const WASM_USABLE = 0.9;
/** what may be planned on of the machine's memory */
const RAM_USABLE = 0.8;

const F = 4; // bytes per float32
/**
 * Heap bytes per trained weight during a step beyond the weight itself: XNNPACK packs a copy of
 * every matrix a plain 2-D product multiplies by (the weight forward, its explicit transpose
 * backward, which is a copy too, packed again), the gradient, and the optimiser's upload of the
 * new values. Measured: the heap's peak held 5.3 bytes per byte of weights, the weights included
 * (examples/fmnist-deit.json at embed 2,000–24,000, batch 1–32); counted as 1 + 5.
 */
const WEIGHT_OVERHEAD = 5;
/**
 * Heap bytes per float of `activationFloats` (what backward keeps): the kept tensors, their
 * transposes and XNNPACK's packed copies. Measured 21.6 on the same runs, 13.6 for the fmnist
 * space's largest subnet and 9.3 for vitas-1g's (attention-heavy: the guard is cautious there); counted as 24.
 */
const ACTIVATION_BYTES = 24;
/** Heap bytes per float of `activationFloats` that an evaluation forward holds. Measured 4.4 (the fmnist space's largest subnet) to 7.5 (fmnist-deit at embed 16,000); counted as 8. */
const FORWARD_BYTES = 8;
/** the heap's own start (16 MiB) and what a step allocates whatever its size */
const FIXED = 128 * 1024 ** 2;

const GB = 1024 ** 3;
const gb = (b: number): string => `${(b / GB).toFixed(1)} GB`;

/** Bytes of the heap a training step's activations take at its peak, from the operator declarations (calibrated, see ACTIVATION_BYTES). */
export function activationBytes(spec: ArchSpec, batch: number): number {
  return ACTIVATION_BYTES * batch * activationFloats(spec);
}

/** Bytes a training step needs, by kind and by where they live. */
export interface TrainingMemory {
  /** in the backend's tensor memory (the wasm heap on wasm): the weights held */
  weights: number;
  /** what a step adds per weight it trains: packed and transposed copies, gradients, the optimiser's upload */
  gradients: number;
  activations: number;
  /** in JS memory: AdamW's two moments and per-entry step counts, its copy of the weights, the best epoch's, the checkpoint image */
  optimiser: number;
}

/** What a run trains: a standalone spec, or the supernet of a space (weights at its maxima, one subnet's slices per step). */
export interface MemoryTarget {
  spec: ArchSpec;
  supernet?: { space: SearchSpace; options: SupernetOptions };
  /** two-sided slicing runs every image through the left and the right slices */
  sides?: 1 | 2;
  /** names the spec in errors (its file) */
  where?: string;
}

export function trainingMemory(t: MemoryTarget, batch: number): TrainingMemory {
  const size = (shape: number[]): number => shape.reduce((x, y) => x * y, 1);
  const entries = paramList(t.spec);
  const trainable = entries.filter((e) => e.kind.trainable).reduce((a, e) => a + size(e.shape), 0);
  const held = t.supernet ? supernetShapes(t.supernet.space, t.supernet.options).reduce((a, [, v]) => a + size(v.shape), 0) : entries.reduce((a, e) => a + size(e.shape), 0);
  // a supernet step differentiates copies of the slices it uses: one more copy per trained weight
  const gradients = F * trainable * (WEIGHT_OVERHEAD + (t.supernet ? 1 : 0)) * (t.sides ?? 1);
  // m, v, step counts and a weight copy per entry; retrain's best-epoch copy; the checkpoint image (weights, m, v, t, best)
  const optimiser = F * held * (4 + 1 + 5);
  return { weights: F * held, gradients, activations: activationBytes(t.spec, batch * (t.sides ?? 1)), optimiser };
}

const heapOf = (m: TrainingMemory): number => FIXED + m.weights + m.gradients + m.activations;

/** Largest n in [1, hi] with fits(n), or 0 when none (fits is monotone: true up to some n). */
function largest(hi: number, fits: (n: number) => boolean): number {
  let lo = 0;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Throws one line when training `t` at `batch` would not fit: the wasm heap (weights, their
 * gradients and working copies, activations) or the machine's memory (all of it, with the optimiser's state). The advice is the
 * largest batch that fits, or — when the model alone does not fit — the largest embed at batch 1.
 * `flag` names where the batch came from (`--batch`, `supernet.batch`).
 */
export async function checkMemory(t: MemoryTarget, batch: number, flag = '--batch'): Promise<void> {
  const wasm = tf.getBackend() === 'wasm';
  // native backends hold tensors outside this process's JS heap (or on the GPU): only the optimiser's side is counted there
  const inRam = (m: TrainingMemory): number => m.optimiser + (tf.getBackend() === 'tensorflow' ? 0 : heapOf(m));
  const heapCap = WASM_USABLE * WASM_HEAP_BYTES;
  const ramCap = RAM_USABLE * totalmem();
  const fits = (m: TrainingMemory): boolean => (!wasm || heapOf(m) <= heapCap) && inRam(m) <= ramCap;
  const need = trainingMemory(t, batch);
  if (fits(need)) return;

  const heapShort = (m: TrainingMemory): boolean => wasm && heapOf(m) > heapCap;
  const parts = (m: TrainingMemory): string =>
    heapShort(m)
      ? `${gb(heapOf(m))} of wasm heap (weights ${gb(m.weights)}, their gradients and working copies ${gb(m.gradients)}, activations ${gb(m.activations)}), over the ${gb(heapCap)} a step can use (4 GB max)`
      : `${gb(inRam(m))} of memory (optimiser state and checkpoint ${gb(m.optimiser)}), over the ${gb(ramCap)} this machine can give (${gb(totalmem())} in all)`;
  const elsewhere = (m: TrainingMemory): string => (heapShort(m) ? ' (or use the tfjs-node backend)' : '');
  const one = trainingMemory(t, 1);
  if (fits(one)) {
    const b = largest(batch - 1, (n) => fits(trainingMemory(t, n)));
    throw new VitasError(`${flag} ${batch} needs ${parts(need)}; the largest batch that fits is ${b}: lower ${flag} to ${b}${elsewhere(need)}`);
  }
  const what = t.supernet ? `the supernet of space "${t.supernet.space.name}"` : `${t.where ?? 'spec'}: embed ${t.spec.embed}`;
  const advice = t.supernet
    ? 'lower the space\'s maxima (embed, qkv, mlp widths or blocks)'
    : (() => {
        const e = largest(t.spec.embed - 1, (n) => fits(trainingMemory({ ...t, spec: { ...t.spec, embed: n } }, 1)));
        return e > 0 ? `the largest embed that fits at batch 1 is ${e}` : 'no embed fits: lower the qkv and mlp widths or the blocks';
      })();
  throw new VitasError(`${what} does not fit at any batch size: at batch 1 it needs ${parts(one)}; ${advice}${elsewhere(one)}`);
}

/**
 * The batch to evaluate `spec` with: `want`, or on wasm the largest below it whose forward (which
 * keeps its intermediates until the batch's tidy ends) fits beside `weightBytes` of weights.
 * Only a model near the heap's limit gets a smaller one; the accuracy does not depend on it.
 */
export function evaluationBatch(spec: ArchSpec, weightBytes: number, want = 250): number {
  if (tf.getBackend() !== 'wasm') return want;
  // the weights and XNNPACK's packed copies of them, and what the forward keeps until its tidy ends
  const cap = WASM_USABLE * WASM_HEAP_BYTES - FIXED - 2 * weightBytes;
  return Math.max(1, largest(want, (b) => FORWARD_BYTES * b * activationFloats(spec) <= cap));
}
