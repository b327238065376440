/**
 * The matrix-product ceiling of a training step: every matrix product of the median plain subnet
 * of `fmnist` (the one `bench:supernet` compares with PyTorch), forward and backward, batch 64,
 * timed alone — on tfjs-wasm in one thread, on tfjs-wasm in two worker threads at once (half the
 * batch each, as DataParallelStep splits it), and in PyTorch with 2 threads on the same shapes.
 * A step can be no faster than its products, so the last line bounds the step ratio that
 * `bench:supernet` can show on this machine. Run: npm run bench:gemm
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { initBackend, presetSpace, referenceSubnets, costOf, formatMacs, markdownTable, type ArchSpec } from '../src/index.js';
import { tf } from '../src/backend/index.js';

const BATCH = 64;
const REPS = Number(process.env.BENCH_STEPS ?? 10);
const TORCH = '/usr/bin/python3';

/** One product as tf.matMul runs it: a [b?, m, k] (transposed when ta) times b [b?, k, n] (transposed when tb). */
interface Product {
  group: 'linear' | 'attention';
  batch: number;
  m: number;
  k: number;
  n: number;
  ta: boolean;
  tb: boolean;
}

/** The products of a forward + backward pass of a plain (recursion 1, one group) subnet at batch `b`. */
function products(spec: ArchSpec, b: number): Product[] {
  const out: Product[] = [];
  const tokens = (spec.input[0] / spec.patch) * (spec.input[1] / spec.patch);
  const t = tokens + 1;
  const linear = (m: number, k: number, n: number, inputGrad = true): void => {
    out.push({ group: 'linear', batch: 1, m, k, n, ta: false, tb: false }); // y = x·W
    if (inputGrad) out.push({ group: 'linear', batch: 1, m, k: n, n: k, ta: false, tb: true }); // dx = dy·Wᵀ
    out.push({ group: 'linear', batch: 1, m: k, k: m, n, ta: true, tb: false }); // dW = xᵀ·dy
  };
  linear(b * tokens, spec.patch * spec.patch * spec.input[2], spec.embed, false);
  for (const block of spec.blocks) {
    if (block.op !== 'attn') continue;
    const inner = block.qkv / 3; // qkv is the width of q, k and v together
    const d = inner / block.heads;
    const bh = b * block.heads;
    linear(b * t, spec.embed, block.qkv);
    const attn = (m: number, k: number, n: number, ta: boolean, tb: boolean): void => void out.push({ group: 'attention', batch: bh, m, k, n, ta, tb });
    attn(t, d, t, false, true); // s = q·kᵀ
    attn(t, t, d, false, false); // o = p·v
    attn(t, d, t, false, true); // dp = do·vᵀ
    attn(t, t, d, true, false); // dv = pᵀ·do
    attn(t, t, d, false, false); // dq = ds·k
    attn(t, t, d, true, false); // dk = dsᵀ·q
    linear(b * t, inner, spec.embed);
    linear(b * t, spec.embed, block.mlp);
    linear(b * t, block.mlp, spec.embed);
  }
  linear(b, spec.embed, spec.classes);
  return out;
}

const shapeA = (p: Product): number[] => [...(p.batch > 1 ? [p.batch] : []), ...(p.ta ? [p.k, p.m] : [p.m, p.k])];
const shapeB = (p: Product): number[] => [...(p.batch > 1 ? [p.batch] : []), ...(p.tb ? [p.n, p.k] : [p.k, p.n])];

/**
 * Milliseconds per repetition of each product, median over REPS, run as vitas runs it: a linear
 * layer's backward transposes its operand explicitly and multiplies plainly (XNNPACK takes only
 * plain 2-D products; the transposes are separate kernels, not timed here); attention products
 * go to the batched kernel with their transpose flags.
 */
function timeTfjs(list: Product[]): number[] {
  return list.map((p) => {
    const plain = p.batch === 1;
    const a = tf.randomNormal(plain ? [p.m, p.k] : shapeA(p));
    const b = tf.randomNormal(plain ? [p.k, p.n] : shapeB(p));
    const times: number[] = [];
    for (let i = 0; i < REPS + 2; i++) {
      const t0 = performance.now();
      (plain ? tf.matMul(a, b) : tf.matMul(a, b, p.ta, p.tb)).dispose();
      if (i >= 2) times.push(performance.now() - t0);
    }
    a.dispose();
    b.dispose();
    return times.sort((x, y) => x - y)[times.length >> 1]!;
  });
}

const PY = `
import json, sys, time, torch
torch.set_num_threads(2)
out = []
for p in json.load(sys.stdin):
    a = torch.randn(*p['a']); b = torch.randn(*p['b'])
    if p['ta']: a = a.transpose(-1, -2)
    if p['tb']: b = b.transpose(-1, -2)
    ts = []
    for i in range(p['reps'] + 2):
        t0 = time.perf_counter(); torch.matmul(a, b); t = time.perf_counter() - t0
        if i >= 2: ts.append(t * 1000)
    ts.sort(); out.append(ts[len(ts) // 2])
print(json.dumps(out))
`;

function timeTorch(list: Product[]): number[] | string {
  if (!existsSync(TORCH)) return 'no /usr/bin/python3';
  const input = JSON.stringify(list.map((p) => ({ a: shapeA(p), b: shapeB(p), ta: p.ta, tb: p.tb, reps: REPS })));
  const r = spawnSync(TORCH, ['-c', PY], { input, encoding: 'utf8' });
  if (r.status !== 0) return `torch failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  return JSON.parse(r.stdout.trim()) as number[];
}

/** Two workers time the half-batch products at the same moment; the slower one sets the pace. */
async function timeTwoThreads(spec: ArchSpec): Promise<number[]> {
  const workers = [0, 1].map(() => new Worker(new URL(import.meta.url), { workerData: { spec } }));
  const ready = workers.map((w) => new Promise((r) => w.once('message', r)));
  await Promise.all(ready);
  const results = await Promise.all(workers.map((w) => new Promise<number[]>((r) => {
    w.once('message', r);
    w.postMessage('go');
  })));
  await Promise.all(workers.map((w) => w.terminate()));
  return results[0]!.map((t, i) => Math.max(t, results[1]![i]!));
}

const sum = (xs: number[], list: Product[], group?: Product['group']): number => xs.reduce((acc, t, i) => acc + (group === undefined || list[i]!.group === group ? t : 0), 0);

if (!isMainThread) {
  await initBackend();
  const { spec } = workerData as { spec: ArchSpec };
  parentPort!.postMessage('ready');
  parentPort!.once('message', () => parentPort!.postMessage(timeTfjs(products(spec, BATCH / 2))));
} else {
  const info = await initBackend();
  const spec = referenceSubnets({ ...presetSpace('fmnist'), recursion: [1], groups: [1] })[1]!.spec;
  const list = products(spec, BATCH);
  const one = timeTfjs(list);
  const two = await timeTwoThreads(spec);
  const torch = timeTorch(list);
  const macs = list.reduce((a, p) => a + p.batch * p.m * p.k * p.n, 0);
  const cell = (xs: number[] | string, group?: Product['group']): string => (typeof xs === 'string' ? xs : sum(xs, list, group).toFixed(1));
  const rate = (xs: number[]): string => `${((2 * macs) / (sum(xs, list) * 1e6)).toFixed(1)}`;
  console.log(`backend ${info.name} (SIMD ${info.simd}); median plain subnet of fmnist (${formatMacs(costOf(spec).macs)} MACs), batch ${BATCH}: ${list.length} products, ${formatMacs(macs)} MACs per step; median of ${REPS}`);
  console.log(markdownTable(
    ['products', 'tfjs-wasm 1 thread (ms)', 'tfjs-wasm 2 threads (ms)', 'torch 2 threads (ms)'],
    [
      ['linear (fwd + bwd)', cell(one, 'linear'), cell(two, 'linear'), cell(torch, 'linear')],
      ['attention (fwd + bwd, batched)', cell(one, 'attention'), cell(two, 'attention'), cell(torch, 'attention')],
      ['all', cell(one), cell(two), cell(torch)],
      ['GFLOP/s', rate(one), rate(two), typeof torch === 'string' ? '-' : rate(torch)],
      ['img/s if a step were only its products', (BATCH * 1000 / sum(one, list)).toFixed(0), (BATCH * 1000 / sum(two, list)).toFixed(0), typeof torch === 'string' ? '-' : (BATCH * 1000 / sum(torch, list)).toFixed(0)],
    ],
    ['left', 'right', 'right', 'right'],
  ));
  if (typeof torch !== 'string') {
    console.log(`matrix products alone, tfjs-wasm (2 threads) / torch: ${(sum(torch, list) / sum(two, list)).toFixed(2)} (linear ${(sum(torch, list, 'linear') / sum(two, list, 'linear')).toFixed(2)}, attention ${(sum(torch, list, 'attention') / sum(two, list, 'attention')).toFixed(2)})`);
  }
}
