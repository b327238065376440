/**
 * Kernels vitas registers for the wasm backend where tfjs 4.22's own are slow.
 *
 * Slice: the stock kernel reads its whole input out of the wasm heap with `readSync` (a copy)
 * before copying the slice, so slicing a row of a large tensor costs as much as copying the
 * tensor. This one copies the contiguous runs of the slice straight from a heap view.
 *
 * Identity (`tf.clone`): tfjs clones every tensor it saves for a backward pass, and the stock wasm
 * kernel copies the data each time (~250 copies in one median-subnet step). Tensors are immutable
 * (a variable's assign swaps its data, never writes into it), so this one shares the data with a
 * reference count, as wasm's Reshape and the cpu backend's Identity do.
 *
 * BatchMatMul and Sum: batched and transposed products, and sums over leading axes, go to a
 * SIMD module (simd-kernels.ts) instead of the stock scalar loop / a transpose first; so do
 * LayerNorm's, GELU's and softmax attention's forward and backward, as new kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FUSED_KERNELS, simdBatchMatMul, simdSum } from './simd-kernels.js';

interface WasmTensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): WasmTensorInfo;
  incRef(dataId: object): void;
  typedArrayFromHeap(t: WasmTensorInfo): Float32Array | Int32Array | Uint8Array;
}

function sliceKernel(args: { inputs: { x: WasmTensorInfo }; attrs: { begin: number | number[]; size: number | number[] }; backend: WasmBackendLike }): WasmTensorInfo {
  const { x } = args.inputs;
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, args.attrs.begin, args.attrs.size);
  const out = args.backend.makeOutput(size, x.dtype);
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  const src = args.backend.typedArrayFromHeap(x);
  const dst = args.backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const strides = tf.util.computeStrides(x.shape);
  // merge trailing dimensions that are copied whole into one contiguous run
  let inner = rank - 1;
  let run = size[inner] ?? 1;
  while (inner > 0 && size[inner] === x.shape[inner] && begin[inner] === 0) {
    inner--;
    run *= size[inner]!;
  }
  if (rank === 0) {
    dst[0] = src[0]!;
    return out;
  }
  const outer = size.slice(0, inner);
  const idx = new Array<number>(inner).fill(0);
  let base = 0;
  for (let d = 0; d <= inner; d++) base += begin[d]! * (strides[d] ?? 1);
  const count = total / run;
  for (let k = 0, o = 0; k < count; k++, o += run) {
    let off = base;
    for (let d = 0; d < inner; d++) off += idx[d]! * strides[d]!;
    dst.set(src.subarray(off, off + run), o);
    for (let d = inner - 1; d >= 0; d--) {
      if (++idx[d]! < outer[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

function identityKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as unknown as { x: WasmTensorInfo };
    if (x.dtype === 'string') return stock(args);
    (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** Replaces a stock wasm kernel with `make(stock)`; the stock setup still runs (it binds the wasm entry point the stock kernel keeps using). */
function wrap(name: string, make: (stock: tf.KernelFunc) => tf.KernelFunc): void {
  const stock = tf.getKernel(name, 'wasm');
  if (!stock) return;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: make(stock.kernelFunc), ...(stock.setupFunc ? { setupFunc: stock.setupFunc } : {}) });
}

let registered = false;

export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  tf.unregisterKernel('Slice', 'wasm');
  tf.registerKernel({ kernelName: 'Slice', backendName: 'wasm', kernelFunc: sliceKernel as unknown as tf.KernelFunc });
  wrap('Identity', identityKernel);
  wrap('BatchMatMul', simdBatchMatMul);
  wrap('Sum', simdSum);
  for (const [kernelName, kernelFunc] of FUSED_KERNELS) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

