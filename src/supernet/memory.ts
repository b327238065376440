/** Fail early, with a clear message, when a training step would not fit the wasm heap (4 GB, never shrinks). */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../space/errors.js';
import type { ArchSpec } from '../space/spec.js';

export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/** Rough bytes of activations a training step keeps for backward (float32, with a 2× margin for temporaries). */
export function activationBytes(spec: ArchSpec, batch: number): number {
  const patches = (spec.input[0] / spec.patch) * (spec.input[1] / spec.patch);
  const t = patches + (spec.readout === 'cls' ? 1 : 0);
  let floats = batch * patches * spec.patch * spec.patch * spec.input[2] * 2;
  for (const b of spec.blocks) {
    if (b.op !== 'attn') continue;
    const passes = b.recursion ?? 1;
    const perPass = batch * t * (6 * spec.embed + 5 * (b.qkv / 3) + 3 * b.mlp) + 3 * batch * b.heads * t * t;
    floats += passes * perPass + (passes - 1) * batch * t * 5 * spec.embed;
  }
  return 2 * 4 * floats;
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
