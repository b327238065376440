/**
 * Multiply-accumulates actually executed: runs a function once with the matrix-product and
 * convolution kernels of the active backend wrapped so that each call adds its MACs, then puts
 * the registered kernels back (also when the function throws). The cost model's MAC formulas
 * are tested against this count.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ATTENTION, ATTENTION_GRAD } from './simd-kernels.js';

interface Info {
  shape: number[];
}
type Inputs = Record<string, Info | undefined>;
type Attrs = Record<string, unknown>;

const size = (shape: number[]): number => shape.reduce((p, d) => p * d, 1);
const first = (out: Info | Info[]): Info => (Array.isArray(out) ? out[0]! : out);

/** out = a·b (batched, broadcast): every output element is an inner product of length k. */
function matMulMacs(inputs: Inputs, attrs: Attrs, out: Info | Info[]): number {
  const a = inputs['a']!.shape;
  const k = a[attrs['transposeA'] ? a.length - 2 : a.length - 1]!;
  return size(first(out).shape) * k;
}

/** Convolutions: every output element (of the forward) is a dot over the filter window. */
const convMacs = (filterShape: number[], dyShape: number[], depthwise: boolean): number =>
  size(dyShape) * filterShape[0]! * filterShape[1]! * (depthwise ? 1 : filterShape[2]!);

/** The heads·d width and token count of vitas's fused attention kernels (q/k/v or one qkv). */
function attentionDims(inputs: Inputs): { items: number; n: number; inner: number } {
  const qkv = inputs['qkv'];
  const [items, n, width] = (qkv ?? inputs['q']!).shape as [number, number, number];
  return { items, n, inner: qkv ? width / 3 : width };
}

const COUNTERS: Record<string, (inputs: Inputs, attrs: Attrs, out: Info | Info[]) => number> = {
  BatchMatMul: matMulMacs,
  _FusedMatMul: matMulMacs,
  Conv2D: (i, _a, out) => convMacs(i['filter']!.shape, first(out).shape, false),
  FusedConv2D: (i, _a, out) => convMacs(i['filter']!.shape, first(out).shape, false),
  DepthwiseConv2dNative: (i, _a, out) => convMacs(i['filter']!.shape, first(out).shape, true),
  FusedDepthwiseConv2D: (i, _a, out) => convMacs(i['filter']!.shape, first(out).shape, true),
  Conv2DBackpropInput: (i) => convMacs(i['filter']!.shape, i['dy']!.shape, false),
  Conv2DBackpropFilter: (i, a) => convMacs(a['filterShape'] as number[], i['dy']!.shape, false),
  DepthwiseConv2dNativeBackpropInput: (i) => convMacs(i['filter']!.shape, i['dy']!.shape, true),
  DepthwiseConv2dNativeBackpropFilter: (i, a) => convMacs(a['filterShape'] as number[], i['dy']!.shape, true),
  // QKᵀ and AV per head
  [ATTENTION]: (i) => {
    const { items, n, inner } = attentionDims(i);
    return 2 * items * n * n * inner;
  },
  // dV = AᵀdO, dA = dO·Vᵀ, dQ = dS·K, dK = dSᵀQ per head
  [ATTENTION_GRAD]: (i) => {
    const { items, n, inner } = attentionDims(i);
    return 4 * items * n * n * inner;
  },
};

export interface MacCount {
  macs: number;
  byKernel: Record<string, number>;
}

/** Runs `fn` once and returns the MACs of the product and convolution kernels it executed on the active backend. */
export function countMacs(fn: () => void): MacCount {
  const backend = tf.getBackend();
  const count: MacCount = { macs: 0, byKernel: {} };
  const originals: tf.KernelConfig[] = [];
  try {
    for (const [name, macsOf] of Object.entries(COUNTERS)) {
      const config = tf.getKernel(name, backend);
      if (!config) continue;
      originals.push(config);
      tf.unregisterKernel(name, backend);
      tf.registerKernel({
        ...config,
        kernelFunc: (args) => {
          const out = config.kernelFunc(args);
          const macs = macsOf(args.inputs as unknown as Inputs, (args.attrs ?? {}) as Attrs, out as Info | Info[]);
          count.macs += macs;
          count.byKernel[name] = (count.byKernel[name] ?? 0) + macs;
          return out;
        },
      });
    }
    fn();
  } finally {
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, backend);
      tf.registerKernel(config);
    }
  }
  return count;
}
