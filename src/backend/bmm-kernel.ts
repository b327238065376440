/**
 * BatchMatMul for the wasm backend where tfjs-wasm 4.22 falls back to its scalar loop: batched
 * or transposed products (every attention product of a step, forward and backward). Those run
 * here in a small 128-bit SIMD module (src/backend/wasm/bmm.c) that imports tfjs-wasm's own
 * memory and reads and writes the tensors in place. Plain 2-D products stay on XNNPACK, and
 * broadcast batches or other dtypes go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BMM_WASM_BASE64 } from './wasm/bmm-wasm.js';

/** The part of the WebAssembly JS API used here (the project's TS libs carry no WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: { env: { memory: WasmMemory } }) => { exports: Record<string, unknown> };
};

interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

interface WasmBackendLike {
  wasm: { asm: { memory: WasmMemory }; _malloc(bytes: number): number; _free(ptr: number): void };
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfoLike;
}

type BmmExport = (a: number, b: number, c: number, scratch: number, batch: number, n: number, k: number, m: number, transposeA: number, transposeB: number) => void;

let moduleBytes: Uint8Array | undefined;
/** one instance per tfjs-wasm memory (each worker thread has its own) */
const instances = new WeakMap<WasmMemory, BmmExport>();

function simdBmm(backend: WasmBackendLike): BmmExport {
  const memory = backend.wasm.asm.memory;
  let fn = instances.get(memory);
  if (!fn) {
    moduleBytes ??= Buffer.from(BMM_WASM_BASE64, 'base64');
    const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes), { env: { memory } });
    fn = instance.exports['bmm'] as BmmExport;
    instances.set(memory, fn);
  }
  return fn;
}

const sameDims = (x: number[], y: number[]): boolean => x.length === y.length && x.every((d, i) => d === y[i]);

/** Wraps the stock wasm BatchMatMul: the cases it runs in scalar code go to the SIMD module. */
export function simdBatchMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as unknown as { a: TensorInfoLike; b: TensorInfoLike };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as unknown as WasmBackendLike;
    const batchDims = a.shape.slice(0, -2);
    const batch = batchDims.reduce((p, d) => p * d, 1);
    const onXnnpack = !transposeA && !transposeB && batch === 1 && b.shape.length <= 3;
    if (onXnnpack || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || !sameDims(batchDims, b.shape.slice(0, -2))) return stock(args);
    const ra = a.shape.length;
    const n = a.shape[transposeA ? ra - 1 : ra - 2]!;
    const k = a.shape[transposeA ? ra - 2 : ra - 1]!;
    const kb = b.shape[transposeB ? ra - 1 : ra - 2]!;
    const m = b.shape[transposeB ? ra - 2 : ra - 1]!;
    if (k !== kb) return stock(args); // the stock kernel raises tfjs's own shape error
    const out = backend.makeOutput([...batchDims, n, m], 'float32');
    if (batch * n * m === 0) return out;
    const fn = simdBmm(backend);
    // b copied into scratch, rows padded to whole vectors (see bmm.c)
    const scratch = transposeB || m % 4 ? backend.wasm._malloc(4 * k * (Math.ceil(m / 4) * 4)) : 0;
    try {
      fn(backend.getMemoryOffset(a.dataId), backend.getMemoryOffset(b.dataId), backend.getMemoryOffset(out.dataId), scratch, batch, n, k, m, transposeA ? 1 : 0, transposeB ? 1 : 0);
    } finally {
      if (scratch) backend.wasm._free(scratch);
    }
    return out;
  };
}
