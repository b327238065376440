/**
 * Forward + backward time and peak tensor memory of one token-mixing layer per attention type
 * (softmax, performer, linformer, nystrom, fnet, mixer, xnorm, dual) at 50, 197 and 785 tokens
 * (patch 4, 2 and 1 on 28×28, plus the class token), E 64, 4 heads — built from src/supernet/fn and
 * `linear` on the default backend, and in the same run the same layers in PyTorch
 * (bench/torch_operators.py). The attention types project q, k, v with one linear E → 3E and
 * back with E → E; fnet and mixer act on x directly (as the Vision X-formers blocks do); dual is one
 * Dual-ViT block's mixing (semantic self-attention, semantic → pixel, semantic MLP E → 4E → E,
 * pixel → semantic) with its M = 16 semantic tokens an input that is differentiated too.
 *
 * vitas memory (src/backend/memory-peak.ts), high-water marks during one forward + backward
 * above the bytes before it: "vitas MB" of the distinct live data buffers (saved activations,
 * outputs, gradients, temporaries), "numBytes MB" of tf.memory().numBytes (which counts a
 * reshape or a saved-for-backward clone again though it shares its input's buffer).
 * torch memory: the bytes of the distinct storages autograd saves for the backward.
 * Run: npm run bench:operators (env BENCH_BATCH, BENCH_REPEATS, BENCH_TOKENS e.g. 50 for a quick smoke).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { initBackend, linear, softmaxAttentionQkv, softmaxAttention, markdownTable, formatMacs, Rng } from '../src/index.js';
import { tf } from '../src/backend/index.js';
import { fusedKernelsActive } from '../src/backend/simd-kernels.js';
import { countMacs } from '../src/backend/mac-count.js';
import { peakMemory } from '../src/backend/memory-peak.js';
import { orthogonalFeatures, performerAttention } from '../src/supernet/fn/performer.js';
import { linformerAttention } from '../src/supernet/fn/linformer.js';
import { nystromAttention } from '../src/supernet/fn/nystrom.js';
import { fnetMixing } from '../src/supernet/fn/fnet.js';
import { tokenMixing } from '../src/supernet/fn/mixer.js';
import { xnormAttention } from '../src/supernet/fn/xnorm.js';
import { dualMixing, type DualWeights } from '../src/supernet/fn/dual.js';

const TYPES = ['softmax', 'performer', 'linformer', 'nystrom', 'fnet', 'mixer', 'xnorm', 'dual'] as const;
type Kind = (typeof TYPES)[number];
const TOKENS = (process.env.BENCH_TOKENS ?? '50,197,785').split(',').map(Number);
const E = 64, HEADS = 4, D = E / HEADS;
const BATCH = Number(process.env.BENCH_BATCH ?? 8);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
/** performer m = ⌈d·ln d⌉; the Vision X-formers defaults k = 64 (linformer) and 64 landmarks (nystrom), conv kernel 33; mixer T = 64 */
const FEATURES = Math.ceil(D * Math.log(D)), LINFORMER_K = 64, LANDMARKS = 64, CONV_KERNEL = 33, TOKEN_MLP = 64;
/** dual: M semantic tokens; the semantic MLP's width is the reference's 4E */
const SEMANTIC = 16, SEMANTIC_MLP = 4 * E;
/** the dual block's weights by name: linears (`.w`, `.b`) and LayerNorms (`.gamma`, `.beta`) */
const DUAL_LINEARS: Record<string, [number, number]> = {
  selfQ: [E, E], selfK: [E, E], selfV: [E, E], selfProj: [E, E], crossQ: [E, E], crossK: [E, E], crossV: [E, E], crossProj: [E, E],
  fc1: [E, SEMANTIC_MLP], fc2: [SEMANTIC_MLP, E], q: [E, E], k: [E, E], v: [E, E], proj: [E, E],
};
const DUAL_NORMS = ['selfNorm', 'crossNorm', 'mlpNorm', 'kvNorm'];
const TORCH = '/usr/bin/python3';
const YARDSTICK = fileURLToPath(new URL('../../bench/torch_operators.py', import.meta.url));

type Params = Record<string, tf.Tensor>;

function params(kind: Kind, n: number, rng: Rng): { trained: Params; fixed: Params } {
  const normal = (shape: number[], sd: number): tf.Tensor => tf.tensor(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => sd * rng.normal()), shape);
  const proj = { wqkv: normal([E, 3 * E], E ** -0.5), bqkv: tf.zeros([3 * E]), wo: normal([E, E], E ** -0.5), bo: tf.zeros([E]) };
  switch (kind) {
    case 'fnet':
      return { trained: {}, fixed: {} };
    case 'mixer':
      return { trained: { w1: normal([n, TOKEN_MLP], n ** -0.5), b1: tf.zeros([TOKEN_MLP]), w2: normal([TOKEN_MLP, n], TOKEN_MLP ** -0.5), b2: tf.zeros([n]) }, fixed: {} };
    case 'performer':
      return { trained: proj, fixed: { omega: tf.tensor2d(orthogonalFeatures(FEATURES, D, rng), [FEATURES, D]) } };
    case 'linformer':
      return { trained: { ...proj, e: normal([n, LINFORMER_K], LINFORMER_K ** -0.5) }, fixed: {} };
    case 'nystrom':
      return { trained: { ...proj, conv: normal([HEADS, CONV_KERNEL], CONV_KERNEL ** -0.5) }, fixed: {} };
    case 'xnorm':
      return { trained: { ...proj, gamma: tf.ones([HEADS]) }, fixed: {} };
    case 'dual': {
      const trained: Params = { semantic: normal([BATCH, SEMANTIC, E], 1) };
      for (const [name, [i, o]] of Object.entries(DUAL_LINEARS)) [trained[`${name}.w`], trained[`${name}.b`]] = [normal([i, o], i ** -0.5), tf.zeros([o])];
      for (const name of DUAL_NORMS) [trained[`${name}.gamma`], trained[`${name}.beta`]] = [tf.ones([E]), tf.zeros([E])];
      return { trained, fixed: {} };
    }
    default:
      return { trained: proj, fixed: {} };
  }
}

/** The layer: x [B, N, E] → [B, N, E]. */
function layer(kind: Kind, x: tf.Tensor3D, p: Params): tf.Tensor3D {
  const [b, n] = x.shape;
  const t2 = (name: string): tf.Tensor2D => p[name] as tf.Tensor2D;
  const t1 = (name: string): tf.Tensor1D => p[name] as tf.Tensor1D;
  if (kind === 'fnet') return fnetMixing(x);
  if (kind === 'mixer') return tokenMixing(x, t2('w1'), t1('b1'), t2('w2'), t1('b2'));
  if (kind === 'dual') {
    const w = Object.fromEntries([
      ...Object.keys(DUAL_LINEARS).map((n) => [n, { w: t2(`${n}.w`), b: t1(`${n}.b`) }]),
      ...DUAL_NORMS.map((n) => [n, { gamma: t1(`${n}.gamma`), beta: t1(`${n}.beta`) }]),
    ]) as unknown as DualWeights;
    return dualMixing(x, p['semantic'] as tf.Tensor3D, w, HEADS).out;
  }
  const qkv = linear(tf.reshape(x, [b * n, E]), t2('wqkv'), t1('bqkv'));
  let o: tf.Tensor3D;
  if (kind === 'softmax' && fusedKernelsActive()) o = softmaxAttentionQkv(tf.reshape(qkv, [b, n, 3 * E]), HEADS);
  else {
    const [q, k, v] = tf.split(qkv, 3, 1).map((z) => tf.reshape(z, [b, n, E])) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    if (kind === 'softmax') o = softmaxAttention(q, k, v, HEADS);
    else if (kind === 'performer') o = performerAttention(q, k, v, HEADS, t2('omega'));
    else if (kind === 'linformer') o = linformerAttention(q, k, v, HEADS, t2('e'), t2('e'));
    else if (kind === 'nystrom') o = nystromAttention(q, k, v, HEADS, LANDMARKS, { conv: t2('conv') });
    else o = xnormAttention(q, k, v, HEADS, t1('gamma'));
  }
  return tf.reshape(linear(tf.reshape(o, [b * n, E]), t2('wo'), t1('bo')), [b, n, E]);
}

interface Measured {
  ms: number;
  /** peak of distinct live buffers, MB */
  mb: number;
  /** peak of tf.memory().numBytes, MB */
  numMb: number;
  macs: number;
}

function measure(kind: Kind, n: number): Measured {
  const rng = new Rng(`bench-operators:${kind}:${n}`);
  const { trained, fixed } = params(kind, n, rng);
  const names = Object.keys(trained);
  const x = tf.randomNormal([BATCH, n, E], 0, 1, 'float32', 1) as tf.Tensor3D;
  const dy = tf.randomNormal([BATCH, n, E], 0, 1, 'float32', 2) as tf.Tensor3D;
  const step = (): void =>
    tf.tidy(() => {
      const f = (...ts: tf.Tensor[]): tf.Tensor3D => layer(kind, ts[0] as tf.Tensor3D, { ...fixed, ...Object.fromEntries(names.map((k, i) => [k, ts[i + 1]!])) });
      tf.grads(f)([x, ...names.map((k) => trained[k]!)], dy);
    });
  step(); // warm-up (and the constant tables fnet caches)
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  const peak = peakMemory(step);
  const macs = tf.tidy(() => countMacs(() => void layer(kind, x, { ...fixed, ...trained })).macs);
  tf.dispose([x, dy, ...Object.values(trained), ...Object.values(fixed)]);
  return { ms: times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!, mb: peak.bufferBytes / 2 ** 20, numMb: peak.numBytes / 2 ** 20, macs };
}

interface TorchRow {
  type: Kind;
  tokens: number;
  ms: number;
  saved_mb: number;
}

function torchRun(): { rows: TorchRow[]; note: string } {
  if (!existsSync(TORCH)) return { rows: [], note: 'no /usr/bin/python3' };
  const args = [YARDSTICK, '--tokens', TOKENS.join(','), '--batch', String(BATCH), '--repeats', String(REPEATS), '--threads', '1', '--features', String(FEATURES), '--linformer-k', String(LINFORMER_K), '--landmarks', String(LANDMARKS), '--conv-kernel', String(CONV_KERNEL), '--token-mlp', String(TOKEN_MLP), '--semantic', String(SEMANTIC)];
  const r = spawnSync(TORCH, args, { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return { rows: [], note: `torch failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').pop()}` };
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { engine: string; threads: number; results: TorchRow[] };
  return { rows: out.results, note: `${out.engine}, ${out.threads} thread` };
}

const info = await initBackend();
const ours = new Map<string, Measured>();
for (const n of TOKENS) for (const kind of TYPES) ours.set(`${kind}:${n}`, measure(kind, n));
const torch = torchRun();
const theirs = new Map(torch.rows.map((r) => [`${r.type}:${r.tokens}`, r]));
const fmt = (x: number | undefined, digits = 1): string => (x === undefined ? '-' : x.toFixed(digits));
const rows: string[][] = [];
for (const n of TOKENS)
  for (const kind of TYPES) {
    const m = ours.get(`${kind}:${n}`)!, t = theirs.get(`${kind}:${n}`);
    const sm = ours.get(`softmax:${n}`)!, tsm = theirs.get(`softmax:${n}`);
    rows.push([kind, String(n), formatMacs(m.macs), fmt(m.ms), fmt(t?.ms), t ? (m.ms / t.ms).toFixed(2) : '-', fmt(m.mb, 2), fmt(m.numMb, 2), fmt(t?.saved_mb, 2), (m.mb / sm.mb).toFixed(2), t && tsm ? (t.saved_mb / tsm.saved_mb).toFixed(2) : '-']);
  }
console.log(`backend ${info.name} (SIMD ${info.simd}, 1 thread); batch ${BATCH}, E ${E}, ${HEADS} heads; performer m ${FEATURES}, linformer k ${LINFORMER_K}, nystrom ${LANDMARKS} landmarks + conv ${CONV_KERNEL}, mixer T ${TOKEN_MLP}, dual M ${SEMANTIC}; median of ${REPEATS}; torch: ${torch.note}`);
console.log(
  markdownTable(
    ['attention', 'tokens', 'fwd MACs', 'vitas ms', 'torch ms', 'vitas/torch', 'vitas MB', 'vitas numBytes MB', 'torch MB', 'vitas MB ÷ softmax', 'torch MB ÷ softmax'],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  ),
);
