/**
 * Kernels for the wasm backend that run in a small 128-bit SIMD module (src/backend/wasm/simd.c)
 * importing tfjs-wasm's own memory, so they read and write the tensors in place:
 *
 * BatchMatMul, where tfjs-wasm 4.22 falls back to a scalar loop: batched or transposed products
 * (every attention product of a step, forward and backward). Plain 2-D products stay on
 * XNNPACK; broadcast batches and other dtypes go to the stock kernel.
 *
 * Sum over leading axes (bias and LayerNorm gradients), which tfjs-wasm does by transposing the
 * input first. Other reductions go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SIMD_WASM_BASE64 } from './wasm/simd-wasm.js';

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

interface SimdExports {
  bmm(a: number, b: number, c: number, scratch: number, batch: number, n: number, k: number, m: number, transposeA: number, transposeB: number): void;
  colsum(x: number, out: number, rows: number, cols: number): void;
}

let moduleBytes: Uint8Array | undefined;
/** one instance per tfjs-wasm memory (each worker thread has its own) */
const instances = new WeakMap<WasmMemory, SimdExports>();

function simd(backend: WasmBackendLike): SimdExports {
  const memory = backend.wasm.asm.memory;
  let fns = instances.get(memory);
  if (!fns) {
    moduleBytes ??= Buffer.from(SIMD_WASM_BASE64, 'base64');
    fns = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes), { env: { memory } }).exports as unknown as SimdExports;
    instances.set(memory, fns);
  }
  return fns;
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
    const { bmm } = simd(backend);
    // b copied into scratch, rows padded to whole vectors (see simd.c)
    const scratch = transposeB || m % 4 ? backend.wasm._malloc(4 * k * (Math.ceil(m / 4) * 4)) : 0;
    try {
      bmm(backend.getMemoryOffset(a.dataId), backend.getMemoryOffset(b.dataId), backend.getMemoryOffset(out.dataId), scratch, batch, n, k, m, transposeA ? 1 : 0, transposeB ? 1 : 0);
    } finally {
      if (scratch) backend.wasm._free(scratch);
    }
    return out;
  };
}

/** Wraps the stock wasm Sum: a float32 sum over leading axes goes to the SIMD module. */
export function simdSum(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as unknown as { x: TensorInfoLike };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const backend = args.backend as unknown as WasmBackendLike;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((d, i) => d === i);
    if (!leading || x.dtype !== 'float32') return stock(args);
    const rows = x.shape.slice(0, axes.length).reduce((p, d) => p * d, 1);
    const kept = x.shape.slice(axes.length);
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    const cols = kept.reduce((p, d) => p * d, 1);
    if (cols > 0) simd(backend).colsum(backend.getMemoryOffset(x.dataId), backend.getMemoryOffset(out.dataId), rows, cols);
    return out;
  };
}
