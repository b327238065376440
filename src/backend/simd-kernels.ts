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
 *
 * LayerNorm forward and backward, one kernel each (`VitasLayerNorm`, `VitasLayerNormGrad`, used
 * by src/supernet/ops.ts on wasm) instead of ~9 and ~13 element-wise kernels; GELU likewise
 * (`VitasGelu`, `VitasGeluGrad`) instead of 6 and 8, saving only its input for the backward;
 * softmax attention likewise (`VitasAttention`, `VitasAttentionGrad`), straight on the
 * [batch, tokens, heads·d] layout, without the transposes to [batch·heads, tokens, d] and back;
 * the depthwise 3×3 convolution of LPI likewise (`VitasDepthwise3x3`, `VitasDepthwise3x3Grad`),
 * bias included, instead of nine slices, products and sums each way; and the 3×3 patches of the
 * conv stem (`VitasIm2col3x3`, `VitasCol2im3x3`) instead of pads, strided slices and a concat.
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
  layernorm(x: number, gamma: number, beta: number, y: number, xhat: number, rstd: number, rows: number, dim: number, eps: number): void;
  layernorm_grad(dy: number, xhat: number, rstd: number, gamma: number, dx: number, dgamma: number, dbeta: number, rows: number, dim: number): void;
  gelu(x: number, y: number, n: number): void;
  gelu_grad(x: number, dy: number, dx: number, n: number): void;
  attention(q: number, k: number, v: number, out: number, a: number, scratch: number, batch: number, n: number, heads: number, d: number, scale: number, ldIn: number, ldOut: number): void;
  attention_grad(dout: number, q: number, k: number, v: number, a: number, dq: number, dk: number, dv: number, scratch: number, batch: number, n: number, heads: number, d: number, scale: number, ldIn: number, ldOut: number): void;
  dwconv3x3(x: number, w: number, bias: number, y: number, batch: number, h: number, wd: number, c: number): void;
  dwconv3x3_grad(dy: number, x: number, w: number, dx: number, dw: number, db: number, batch: number, h: number, wd: number, c: number): void;
  im2col3x3(x: number, cols: number, batch: number, h: number, wd: number, c: number, stride: number, ho: number, wo: number): void;
  col2im3x3(dcols: number, dx: number, batch: number, h: number, wd: number, c: number, stride: number, ho: number, wo: number): void;
}

let moduleBytes: Uint8Array | undefined;
/** one instance per tfjs-wasm memory (each worker thread has its own); null where it cannot link */
const instances = new WeakMap<object, SimdExports | null>();

/**
 * The SIMD kernels linked to `memory`, or null where they cannot be (a shared memory of a
 * threaded tfjs-wasm build, or no wasm SIMD): then the stock kernels and element-wise forms run.
 */
export function simdKernelsFor(memory: object): SimdExports | null {
  let fns = instances.get(memory);
  if (fns === undefined) {
    try {
      moduleBytes ??= Buffer.from(SIMD_WASM_BASE64, 'base64');
      fns = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes), { env: { memory: memory as WasmMemory } }).exports as unknown as SimdExports;
    } catch {
      fns = null;
    }
    instances.set(memory, fns);
  }
  return fns;
}

function simd(backend: WasmBackendLike): SimdExports | null {
  return simdKernelsFor(backend.wasm.asm.memory);
}

/** Whether the current backend runs the fused LayerNorm, GELU and attention kernels (wasm with the SIMD module linked). */
export function fusedKernelsActive(): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  return simd(tf.backend() as unknown as WasmBackendLike) !== null;
}

/** For the fused kernels, which run only where `fusedKernelsActive()`. */
function linked(backend: WasmBackendLike): SimdExports {
  const fns = simd(backend);
  if (!fns) throw new Error('vitas: the SIMD kernels are not linked to this wasm backend');
  return fns;
}

const round4 = (x: number): number => Math.ceil(x / 4) * 4;

/** Runs `f` with a scratch buffer of `floats` floats on the wasm heap (none when 0). */
function withScratch(backend: WasmBackendLike, floats: number, f: (ptr: number) => void): void {
  if (floats <= 0) return f(0); // (the kernel reads no scratch then)
  const ptr = backend.wasm._malloc(4 * floats);
  try {
    f(ptr);
  } finally {
    backend.wasm._free(ptr);
  }
}

/** Where each tensor's data starts on the wasm heap. */
const heapOffset = (backend: WasmBackendLike) => (t: TensorInfoLike): number => backend.getMemoryOffset(t.dataId);

const sameDims = (x: number[], y: number[]): boolean => x.length === y.length && x.every((d, i) => d === y[i]);

/** Wraps the stock wasm BatchMatMul: the cases it runs in scalar code go to the SIMD module. */
export function simdBatchMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as unknown as { a: TensorInfoLike; b: TensorInfoLike };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as unknown as WasmBackendLike;
    const batchDims = a.shape.slice(0, -2);
    const batch = batchDims.reduce((p, d) => p * d, 1);
    const ra = a.shape.length;
    const n = a.shape[transposeA ? ra - 1 : ra - 2]!;
    const k = a.shape[transposeA ? ra - 2 : ra - 1]!;
    // (an empty inner dimension comes here too: XNNPACK leaves the output unwritten)
    const onXnnpack = !transposeA && !transposeB && batch === 1 && b.shape.length <= 3 && k > 0;
    if (onXnnpack || a.dtype !== 'float32' || b.dtype !== 'float32' || ra < 2 || !sameDims(batchDims, b.shape.slice(0, -2))) return stock(args);
    const kb = b.shape[transposeB ? ra - 1 : ra - 2]!;
    const m = b.shape[transposeB ? ra - 2 : ra - 1]!;
    const fns = simd(backend);
    if (k !== kb || !fns) return stock(args); // the stock kernel raises tfjs's own shape error
    const out = backend.makeOutput([...batchDims, n, m], 'float32');
    if (batch * n * m === 0) return out;
    const at = heapOffset(backend);
    // room for one item of b laid out in rows padded to whole vectors, where it needs that (see simd.c)
    withScratch(backend, transposeB || m % 4 ? k * round4(m) : 0, (scratch) =>
      fns.bmm(at(a), at(b), at(out), scratch, batch, n, k, m, transposeA ? 1 : 0, transposeB ? 1 : 0),
    );
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
    const fns = simd(backend);
    if (!leading || x.dtype !== 'float32' || !fns) return stock(args);
    const rows = x.shape.slice(0, axes.length).reduce((p, d) => p * d, 1);
    const kept = x.shape.slice(axes.length);
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    const cols = kept.reduce((p, d) => p * d, 1);
    if (cols > 0) fns.colsum(heapOffset(backend)(x), heapOffset(backend)(out), rows, cols);
    return out;
  };
}

export const LAYER_NORM = 'VitasLayerNorm';
export const LAYER_NORM_GRAD = 'VitasLayerNormGrad';

/** x [rows, dim], gamma and beta [dim] → y and xhat [rows, dim], rstd [rows, 1]. */
export function layerNormKernel(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): TensorInfoLike[] {
  const { x, gamma, beta } = args.inputs as unknown as { x: TensorInfoLike; gamma: TensorInfoLike; beta: TensorInfoLike };
  const backend = args.backend as WasmBackendLike;
  const [rows, dim] = x.shape as [number, number];
  const y = backend.makeOutput([rows, dim], 'float32');
  const xhat = backend.makeOutput([rows, dim], 'float32');
  const rstd = backend.makeOutput([rows, 1], 'float32');
  const at = heapOffset(backend);
  if (rows * dim > 0) linked(backend).layernorm(at(x), at(gamma), at(beta), at(y), at(xhat), at(rstd), rows, dim, (args.attrs as { eps: number }).eps);
  return [y, xhat, rstd];
}

/** dy, xhat [rows, dim], rstd [rows, 1], gamma [dim] → dx [rows, dim], dgamma and dbeta [dim]. */
export function layerNormGradKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfoLike[] {
  const { dy, xhat, rstd, gamma } = args.inputs as unknown as { dy: TensorInfoLike; xhat: TensorInfoLike; rstd: TensorInfoLike; gamma: TensorInfoLike };
  const backend = args.backend as WasmBackendLike;
  const [rows, dim] = dy.shape as [number, number];
  const dx = backend.makeOutput([rows, dim], 'float32');
  const dgamma = backend.makeOutput([dim], 'float32');
  const dbeta = backend.makeOutput([dim], 'float32');
  const at = heapOffset(backend);
  if (dim > 0) linked(backend).layernorm_grad(at(dy), at(xhat), at(rstd), at(gamma), at(dx), at(dgamma), at(dbeta), rows, dim);
  return [dx, dgamma, dbeta];
}

export const GELU = 'VitasGelu';
export const GELU_GRAD = 'VitasGeluGrad';

/** GELU (tanh form) of x, any shape. */
export function geluKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfoLike {
  const { x } = args.inputs as unknown as { x: TensorInfoLike };
  const backend = args.backend as WasmBackendLike;
  const y = backend.makeOutput(x.shape, 'float32');
  const n = x.shape.reduce((p, d) => p * d, 1);
  if (n > 0) linked(backend).gelu(heapOffset(backend)(x), heapOffset(backend)(y), n);
  return y;
}

/** dx = dy · GELU′(x). */
export function geluGradKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfoLike {
  const { x, dy } = args.inputs as unknown as { x: TensorInfoLike; dy: TensorInfoLike };
  const backend = args.backend as WasmBackendLike;
  const dx = backend.makeOutput(x.shape, 'float32');
  const n = x.shape.reduce((p, d) => p * d, 1);
  const at = heapOffset(backend);
  if (n > 0) linked(backend).gelu_grad(at(x), at(dy), at(dx), n);
  return dx;
}

export const ATTENTION = 'VitasAttention';
export const ATTENTION_GRAD = 'VitasAttentionGrad';

/**
 * Where q, k and v live: three tensors [batch, n, heads·d], or one qkv [batch, n, 3·heads·d] whose
 * column ranges they are (the fused q/k/v product, no split). Heap offsets and the row stride.
 */
function qkvLayout(inputs: tf.NamedTensorInfoMap, heads: number, backend: WasmBackendLike): { q: number; k: number; v: number; ld: number; batch: number; n: number; inner: number; d: number } {
  const at = heapOffset(backend);
  const { qkv, q, k, v } = inputs as unknown as Record<string, TensorInfoLike | undefined>;
  if (qkv) {
    const [batch, n, all] = qkv.shape as [number, number, number];
    const inner = all / 3;
    const base = at(qkv);
    return { q: base, k: base + 4 * inner, v: base + 8 * inner, ld: all, batch, n, inner, d: inner / heads };
  }
  const [batch, n, inner] = q!.shape as [number, number, number];
  return { q: at(q!), k: at(k!), v: at(v!), ld: inner, batch, n, inner, d: inner / heads };
}

/** q, k, v (see `qkvLayout`) → out [batch, n, heads·d] and the attention maps [batch, heads, n, n]. */
export function attentionKernel(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): TensorInfoLike[] {
  const heads = (args.attrs as { heads: number }).heads;
  const backend = args.backend as WasmBackendLike;
  const { q, k, v, ld, batch, n, inner, d } = qkvLayout(args.inputs, heads, backend);
  const out = backend.makeOutput([batch, n, inner], 'float32');
  const a = backend.makeOutput([batch, heads, n, n], 'float32');
  const at = heapOffset(backend);
  if (batch * n * inner > 0) {
    withScratch(backend, Math.max(d * round4(n), n * round4(d)), (scratch) =>
      linked(backend).attention(q, k, v, at(out), at(a), scratch, batch, n, heads, d, 1 / Math.sqrt(d), ld, inner),
    );
  }
  return [out, a];
}

/** dy [batch, n, heads·d], q, k, v as given to the forward, and the maps → dq, dk, dv (or one dqkv). */
export function attentionGradKernel(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): TensorInfoLike[] {
  const heads = (args.attrs as { heads: number }).heads;
  const backend = args.backend as WasmBackendLike;
  const { dy, a, qkv } = args.inputs as unknown as { dy: TensorInfoLike; a: TensorInfoLike; qkv?: TensorInfoLike };
  const { q, k, v, ld, batch, n, inner, d } = qkvLayout(args.inputs, heads, backend);
  const grads = qkv ? [backend.makeOutput(qkv.shape, 'float32')] : [0, 1, 2].map(() => backend.makeOutput([batch, n, inner], 'float32'));
  const at = heapOffset(backend);
  const [dq, dk, dv] = qkv ? [0, 4 * inner, 8 * inner].map((off) => at(grads[0]!) + off) : grads.map(at);
  if (batch * n * inner > 0) {
    withScratch(backend, n * n + Math.max(d * round4(n), n * round4(d)), (scratch) =>
      linked(backend).attention_grad(at(dy), q, k, v, at(a), dq!, dk!, dv!, scratch, batch, n, heads, d, 1 / Math.sqrt(d), ld, inner),
    );
  }
  return grads;
}

export const DEPTHWISE = 'VitasDepthwise3x3';
export const DEPTHWISE_GRAD = 'VitasDepthwise3x3Grad';

/** x [batch, h, w, c] (NHWC), taps w [9, c], bias [c] → y [batch, h, w, c]: stride 1, zero padding 1. */
export function depthwiseKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfoLike {
  const { x, w, b } = args.inputs as unknown as { x: TensorInfoLike; w: TensorInfoLike; b: TensorInfoLike };
  const backend = args.backend as WasmBackendLike;
  const [batch, h, wd, c] = x.shape as [number, number, number, number];
  const y = backend.makeOutput(x.shape, 'float32');
  const at = heapOffset(backend);
  if (batch * h * wd * c > 0) linked(backend).dwconv3x3(at(x), at(w), at(b), at(y), batch, h, wd, c);
  return y;
}

/** dy and x [batch, h, w, c], taps w [9, c] → dx [batch, h, w, c], dw [9, c], db [c]. */
export function depthwiseGradKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfoLike[] {
  const { dy, x, w } = args.inputs as unknown as { dy: TensorInfoLike; x: TensorInfoLike; w: TensorInfoLike };
  const backend = args.backend as WasmBackendLike;
  const [batch, h, wd, c] = x.shape as [number, number, number, number];
  const dx = backend.makeOutput(x.shape, 'float32');
  const dw = backend.makeOutput([9, c], 'float32');
  const db = backend.makeOutput([c], 'float32');
  const at = heapOffset(backend);
  if (c > 0) linked(backend).dwconv3x3_grad(at(dy), at(x), at(w), at(dx), at(dw), at(db), batch, h, wd, c);
  return [dx, dw, db];
}

export const IM2COL = 'VitasIm2col3x3';
export const COL2IM = 'VitasCol2im3x3';

/** Output side of a 3×3, pad 1 convolution with stride s. */
export const outSide = (side: number, stride: number): number => Math.floor((side - 1) / stride) + 1;

/** x [batch, h, w, c] (NHWC) → the 3×3 patches [batch·ho·wo, 9·c] of a pad-1 convolution with `stride` (tap-major). */
export function im2colKernel(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): TensorInfoLike {
  const { x } = args.inputs as unknown as { x: TensorInfoLike };
  const stride = (args.attrs as { stride: number }).stride;
  const backend = args.backend as WasmBackendLike;
  const [batch, h, wd, c] = x.shape as [number, number, number, number];
  const ho = outSide(h, stride), wo = outSide(wd, stride);
  const cols = backend.makeOutput([batch * ho * wo, 9 * c], 'float32');
  const at = heapOffset(backend);
  if (batch * ho * wo * c > 0) linked(backend).im2col3x3(at(x), at(cols), batch, h, wd, c, stride, ho, wo);
  return cols;
}

/** Its backward: dcols [batch·ho·wo, 9·c] → dx of x's `shape` (attribute), each pixel's entries summed. */
export function col2imKernel(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): TensorInfoLike {
  const { dcols } = args.inputs as unknown as { dcols: TensorInfoLike };
  const { stride, shape } = args.attrs as { stride: number; shape: number[] };
  const backend = args.backend as WasmBackendLike;
  const [batch, h, wd, c] = shape as [number, number, number, number];
  const dx = backend.makeOutput(shape, 'float32');
  const at = heapOffset(backend);
  if (batch * h * wd * c > 0) linked(backend).col2im3x3(at(dcols), at(dx), batch, h, wd, c, stride, outSide(h, stride), outSide(wd, stride));
  return dx;
}

/** The new kernels, for registration on the wasm backend. */
export const FUSED_KERNELS: [string, (args: never) => TensorInfoLike | TensorInfoLike[]][] = [
  [LAYER_NORM, layerNormKernel],
  [LAYER_NORM_GRAD, layerNormGradKernel],
  [GELU, geluKernel],
  [GELU_GRAD, geluGradKernel],
  [ATTENTION, attentionKernel],
  [ATTENTION_GRAD, attentionGradKernel],
  [DEPTHWISE, depthwiseKernel],
  [DEPTHWISE_GRAD, depthwiseGradKernel],
  [IM2COL, im2colKernel],
  [COL2IM, col2imKernel],
];
