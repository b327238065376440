/** Fail early, with a clear message, when a training step would not fit the wasm heap (4 GB, never shrinks). */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../space/errors.js';
import { activationFloats } from '../space/operators/network.js';
import type { ArchSpec } from '../space/spec.js';

export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/** Rough bytes of activations a training step keeps for backward (float32, with a 2× margin for temporaries), from the operator declarations. */
export function activationBytes(spec: ArchSpec, batch: number): number {
  return 2 * 4 * batch * activationFloats(spec);
}

export async function checkMemory(spec: ArchSpec, batch: number): Promise<void> {
  if (tf.getBackend() !== 'wasm') return;
  const need = activationBytes(spec, batch);
  if (need > 0.75 * WASM_HEAP_BYTES) {
    throw new VitasError(
      `batch ${batch} needs about ${(need / 1024 ** 3).toFixed(1)} GB of activations for the largest subnet, over the wasm heap's 4 GB; lower --batch (or use the tfjs-node backend)`,
    );
  }
}
