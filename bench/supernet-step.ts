/**
 * Supernet training-step throughput (batch 64) on the default backend for the smallest, a median
 * and the largest subnet of `fmnist` restricted to plain blocks (recursion 1, one group: the
 * network the PyTorch yardstick builds), plus the median subnet of the full space; and, in the
 * same run, the PyTorch yardstick on the same specs. Run: npm run bench:supernet
 * Needs Debian's python3-torch and libopenblas0-openmp for the yardstick (skipped with a note otherwise).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { initBackend, presetSpace, referenceSubnets, Supernet, MaskedAdamW, trainStep, DataParallelStep, defaultStepThreads, costOf, formatMacs, markdownTable, type ArchSpec } from '../src/index.js';
import { tf } from '../src/backend/index.js';

const BATCH = 64;
const STEPS = Number(process.env.BENCH_STEPS ?? 8);
/** steps run before timing: a fresh worker thread's JIT needs ~20 to reach the speed it trains at */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const TORCH = '/usr/bin/python3';
/** bench/torch_vit_step.py of this repository (this file runs as dist/bench/supernet-step.js) */
const YARDSTICK = fileURLToPath(new URL('../../bench/torch_vit_step.py', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** img/s of training steps on `spec`: in this thread, or data-parallel over `threads` threads as `vitas supernet train` runs them. */
async function vitasStep(net: Supernet, spec: ArchSpec, threads: number): Promise<number> {
  const opt = new MaskedAdamW();
  const x = tf.randomNormal([BATCH, ...spec.input]) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % spec.classes), 'int32');
  const batch = { x: x.dataSync() as Float32Array, y: y.dataSync() as Int32Array, size: BATCH };
  const parallel = threads > 1 ? new DataParallelStep(net, threads) : undefined;
  const times: number[] = [];
  for (let i = 0; i < STEPS + WARMUP; i++) {
    const t0 = performance.now();
    if (parallel) await parallel.step(opt, batch, [spec], 1e-3, { slicing: 'left', labelSmoothing: 0.1 });
    else trainStep(net, opt, x, y, [spec], 1e-3, { slicing: 'left', labelSmoothing: 0.1 });
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  await parallel?.dispose();
  x.dispose();
  y.dispose();
  opt.dispose();
  return (BATCH * 1000) / median(times);
}

function torchStep(spec: ArchSpec): number | string {
  if (!existsSync(TORCH) || !existsSync(YARDSTICK)) return 'yardstick not found';
  const dir = mkdtempSync(join(tmpdir(), 'vitas-bench-'));
  const file = join(dir, 'spec.json');
  writeFileSync(file, JSON.stringify(spec));
  const r = spawnSync(TORCH, [YARDSTICK, '--spec', file, '--batch', String(BATCH), '--threads', '2', '--steps', String(Math.max(STEPS, 10))], { encoding: 'utf8' });
  if (r.status !== 0) return `torch failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { train_img_s: number }).train_img_s;
}

const info = await initBackend();
const full = presetSpace('fmnist');
const plain = { ...full, name: 'fmnist', recursion: [1], groups: [1] };
const cases = [...referenceSubnets(plain).map((r) => ({ label: `${r.name} (plain)`, spec: r.spec, plain: true })), { label: 'median (recursion, groups)', spec: referenceSubnets(full)[1]!.spec, plain: false }];
const threads = Number(process.env.BENCH_THREADS ?? defaultStepThreads());
const net = new Supernet(full, { seed: 0 });
const rows: string[][] = [];
let medianRatio: number | undefined;
for (const c of cases) {
  const single = await vitasStep(net, c.spec, 1);
  const ours = threads > 1 ? await vitasStep(net, c.spec, threads) : single;
  const theirs = c.plain ? torchStep(c.spec) : 'n/a (yardstick has no recursion)';
  const ratio = typeof theirs === 'number' ? ours / theirs : undefined;
  if (c.label.startsWith('median (plain)')) medianRatio = ratio;
  rows.push([c.label, formatMacs(costOf(c.spec).macs), single.toFixed(1), ours.toFixed(1), typeof theirs === 'number' ? theirs.toFixed(1) : theirs, ratio === undefined ? '-' : ratio.toFixed(2)]);
}
console.log(`backend ${info.name} (SIMD ${info.simd}), batch ${BATCH}, median of ${STEPS} steps; vitas data-parallel over ${threads} threads (as \`vitas supernet train\` runs), torch --threads 2`);
console.log(markdownTable(['subnet', 'MACs', 'vitas img/s (1 thread)', `vitas img/s (${threads} threads)`, 'torch img/s', 'tfjs/torch'], rows, ['left', 'right', 'right', 'right', 'right', 'right']));
console.log(`supernet-step tfjs/torch ratio (median subnet): ${medianRatio === undefined ? 'n/a' : medianRatio.toFixed(2)}`);
net.dispose();
