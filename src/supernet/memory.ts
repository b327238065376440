/**
 * The up-front memory guard: refuse a training run that cannot fit, before it allocates anything,
 * with advice that passes this same check. On wasm every tensor lives in one heap that tfjs-wasm
 * grows on demand up to emscripten's maximum (getHeapMax(): 4 GiB − 64 KiB) and never shrinks;
 * past it the kernels fail with "memory access out of bounds". The optimiser's state is plain JS
 * arrays, outside that heap but inside the machine's memory.
 */
import { totalmem } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../space/errors.js';
import { activationFloats } from '../space/operators/network.js';
import { paramList } from '../space/params.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { supernetShapes, type SupernetOptions } from './supernet.js';

/** tfjs-wasm's heap maximum (its emscripten build's getHeapMax()). */
export const WASM_HEAP_BYTES = 4294901760;
/** what a step may plan on: the allocator grows the heap in steps and fragments it; batches and tfjs's own buffers live there too */
export const WASM_USABLE = 0.75;
/** what may be planned on of the machine's memory */
const RAM_USABLE = 0.8;

const F = 4; // bytes per float32
const GB = 1024 ** 3;
const gb = (b: number): string => `${(b / GB).toFixed(1)} GB`;

/** Rough bytes of activations a training step keeps for backward (float32, with a 2× margin for temporaries), from the operator declarations. */
export function activationBytes(spec: ArchSpec, batch: number): number {
  return 2 * F * batch * activationFloats(spec);
}

/** Bytes a training step needs, by kind and by where they live. */
export interface TrainingMemory {
  /** in the backend's tensor memory (the wasm heap on wasm) */
  weights: number;
  gradients: number;
  activations: number;
  /** in JS memory: AdamW's two moments and per-entry step counts, its copy of the weights, the checkpoint image */
  optimiser: number;
}

/** What a run trains: a standalone spec, or the supernet of a space (weights at its maxima, one subnet's gradients per step). */
export interface MemoryTarget {
  spec: ArchSpec;
  supernet?: { space: SearchSpace; options: SupernetOptions };
  /** two-sided slicing runs every image through the left and the right slices */
  sides?: 1 | 2;
}

export function trainingMemory(t: MemoryTarget, batch: number): TrainingMemory {
  const entries = paramList(t.spec);
  const trainable = entries.filter((e) => e.kind.trainable).reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
  const all = entries.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
  const held = t.supernet ? supernetShapes(t.supernet.space, t.supernet.options).reduce((a, [, v]) => a + v.shape.reduce((x, y) => x * y, 1), 0) : all;
  // the supernet differentiates copies of the slices a step uses: leaves + their gradients
  const gradients = F * trainable * (t.supernet ? 2 : 1) * (t.sides ?? 1);
  // m, v, step counts and a weight copy per entry, plus the checkpoint image (weights, m, v, t)
  const optimiser = F * held * (4 + 4);
  return { weights: F * held, gradients, activations: activationBytes(t.spec, batch * (t.sides ?? 1)), optimiser };
}

const heapOf = (m: TrainingMemory): number => m.weights + m.gradients + m.activations;

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
 * Throws one line when training `t` at `batch` would not fit: the wasm heap (weights, gradients,
 * activations) or the machine's memory (all of it, with the optimiser's state). The advice is the
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
      ? `weights ${gb(m.weights)} + gradients ${gb(m.gradients)} + activations ${gb(m.activations)} = ${gb(heapOf(m))}, over the ${gb(heapCap)} of the wasm heap a step can use (4 GB max)`
      : `${gb(inRam(m))} of memory (optimiser state and checkpoint ${gb(m.optimiser)}), over the ${gb(ramCap)} this machine can give (${gb(totalmem())} in all)`;
  const elsewhere = (m: TrainingMemory): string => (heapShort(m) ? ' (or use the tfjs-node backend)' : '');
  const one = trainingMemory(t, 1);
  if (fits(one)) {
    const b = largest(batch - 1, (n) => fits(trainingMemory(t, n)));
    throw new VitasError(`${flag} ${batch} needs ${parts(need)}; the largest batch that fits is ${b}: lower ${flag} to ${b}${elsewhere(need)}`);
  }
  const what = t.supernet ? `the supernet of space "${t.supernet.space.name}"` : `spec: embed ${t.spec.embed}`;
  const advice = t.supernet
    ? 'lower the space\'s maxima (embed, qkv, mlp widths or blocks)'
    : (() => {
        const e = largest(t.spec.embed - 1, (n) => fits(trainingMemory({ ...t, spec: { ...t.spec, embed: n } }, 1)));
        return e > 0 ? `the largest embed that fits at batch 1 is ${e}` : 'no embed fits: lower the qkv and mlp widths or the blocks';
      })();
  throw new VitasError(`${what} does not fit at any batch size: at batch 1 it needs ${parts(one)}; ${advice}${elsewhere(one)}`);
}
