/**
 * Peak tensor memory of a function, two ways:
 *  - distinct data buffers: what the backend really holds (a reshape, or a clone tfjs saves for
 *    the backward, shares its input's buffer on wasm). tfjs keeps no running total of these, so
 *    the engine's buffer bookkeeping (trackTensor / removeDataId) is wrapped to keep one;
 *  - tf.memory().numBytes, which counts every tensor, shared buffers again for each.
 * Both are sampled around every kernel of the active backend (wrapped like countMacs does, the
 * outputs counted as they come back) and reported as high-water marks above the start. The
 * engine methods and kernels are restored afterwards, also when the function throws.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface MemoryPeak {
  /** high-water mark of the bytes of distinct live data buffers, above the start */
  bufferBytes: number;
  /** high-water mark of tf.memory().numBytes, above the start */
  numBytes: number;
}

interface EngineLike {
  state: { numBytes: number; tensorInfo: WeakMap<object, { bytes: number; backend: unknown }> };
  trackTensor(a: tf.Tensor, backend: unknown): void;
  removeDataId(dataId: object, backend: unknown): void;
}

const bytesOf = (t: tf.TensorInfo): number => (t.dtype === 'string' || t.dtype === 'complex64' ? 0 : tf.util.sizeFromShape(t.shape) * tf.util.bytesPerElement(t.dtype));

/** Runs `fn` once and returns the peaks of the tensor memory it allocated on the active backend. */
export function peakMemory(fn: () => void): MemoryPeak {
  const engine = tf.engine() as unknown as EngineLike;
  const { state } = engine;
  const startBytes = state.numBytes;
  let live = 0, peakLive = 0, peakBytes = startBytes;
  /** the live memory, plus the outputs a kernel just made (tfjs tracks them after it returns) */
  const sample = (outs: tf.TensorInfo[] = []): void => {
    let fresh = 0, all = 0;
    for (const t of outs) {
      all += bytesOf(t);
      if (!state.tensorInfo.has(t.dataId)) fresh += bytesOf(t);
    }
    peakLive = Math.max(peakLive, live + fresh);
    peakBytes = Math.max(peakBytes, state.numBytes + all);
  };
  const patched = {
    trackTensor(this: EngineLike, a: tf.Tensor, backend: unknown): void {
      if (!state.tensorInfo.has(a.dataId)) live += bytesOf(a);
      Object.getPrototypeOf(engine).trackTensor.call(this, a, backend);
    },
    removeDataId(this: EngineLike, dataId: object, backend: unknown): void {
      const info = state.tensorInfo.get(dataId);
      if (info && info.backend === backend) live -= info.bytes;
      Object.getPrototypeOf(engine).removeDataId.call(this, dataId, backend);
    },
  };
  const backend = tf.getBackend();
  const originals = tf.getKernelsForBackend(backend);
  try {
    Object.assign(engine, patched);
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, backend);
      tf.registerKernel({
        ...config,
        kernelFunc: (args) => {
          sample();
          const out = config.kernelFunc(args);
          sample(Array.isArray(out) ? out : [out]);
          return out;
        },
      });
    }
    fn();
    sample();
  } finally {
    delete (engine as unknown as Record<string, unknown>)['trackTensor'];
    delete (engine as unknown as Record<string, unknown>)['removeDataId'];
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, backend);
      tf.registerKernel(config);
    }
  }
  return { bufferBytes: peakLive, numBytes: peakBytes - startBytes };
}
