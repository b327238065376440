/**
 * Where a supernet training step spends its time: the median plain subnet of `fmnist` (the one
 * `bench:supernet` compares with PyTorch), batch 64, one thread. Prints the wall time of the
 * gradient half and the optimiser half, then `tf.profile`'s kernels grouped by name and operand
 * ranks (BatchMatMul 2x2 = plain products on XNNPACK, 3x3 = batched attention products).
 * Then the same step over two threads (DataParallelStep), split into its parts.
 * Run: npm run bench:profile
 */
import { performance } from 'node:perf_hooks';
import { initBackend, presetSpace, referenceSubnets, Supernet, MaskedAdamW, stepGradients, applyGradients, DataParallelStep, costOf, formatMacs, markdownTable } from '../src/index.js';
import { tf } from '../src/backend/index.js';

const BATCH = 64;
const STEPS = Number(process.env.BENCH_STEPS ?? 10);
/** steps run before timing: a fresh worker thread's JIT needs ~20 to reach the speed it trains at */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const info = await initBackend();
const full = presetSpace('fmnist');
const spec = referenceSubnets({ ...full, recursion: [1], groups: [1] })[1]!.spec;
const net = new Supernet(full, { seed: 0 });
const opt = new MaskedAdamW();
const x = tf.randomNormal([BATCH, ...spec.input]) as tf.Tensor4D;
const y = tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % spec.classes), 'int32');
const settings = { slicing: 'left' as const, labelSmoothing: 0.1 };
const usage = net.usage([spec], 'left');
const grads: number[] = [], adam: number[] = [];
for (let i = 0; i < STEPS + WARMUP; i++) {
  const t0 = performance.now();
  const g = stepGradients(net, x, y, [spec], settings, usage);
  const t1 = performance.now();
  applyGradients(net, opt, usage, g.grads, 1e-3);
  if (i >= WARMUP) {
    grads.push(t1 - t0);
    adam.push(performance.now() - t1);
  }
}
const step = (): void => applyGradients(net, opt, usage, stepGradients(net, x, y, [spec], settings, usage).grads, 1e-3);
const profile = await tf.profile(step);
const groups = new Map<string, { ms: number; calls: number }>();
for (const k of profile.kernels) {
  // customGrad wrappers ("forward", "fusedMatMul__op") time the kernels inside them again: left out of the shares
  if (k.name === 'forward' || k.name.endsWith('__op')) continue;
  const key = k.name === 'BatchMatMul' ? `BatchMatMul ${k.inputShapes.map((s) => s?.length).join('x')}` : k.name;
  const g = groups.get(key) ?? { ms: 0, calls: 0 };
  g.ms += Number(k.kernelTimeMs);
  g.calls++;
  groups.set(key, g);
}
const total = [...groups.values()].reduce((a, g) => a + g.ms, 0);
console.log(`backend ${info.name} (SIMD ${info.simd}); median plain subnet of fmnist, ${formatMacs(costOf(spec).macs)} MACs, batch ${BATCH}, one thread`);
console.log(`gradients (forward + backward) ${median(grads).toFixed(1)} ms · optimiser ${median(adam).toFixed(1)} ms · ${(BATCH * 1000 / (median(grads) + median(adam))).toFixed(0)} img/s`);
console.log(`${profile.kernels.filter((k) => k.name !== 'forward' && !k.name.endsWith('__op')).length} kernels, ${total.toFixed(1)} ms inside kernels`);
console.log(markdownTable(['kernel', 'calls', 'ms', 'share'], [...groups].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14).map(([n, g]) => [n, String(g.calls), g.ms.toFixed(1), `${((100 * g.ms) / total).toFixed(0)} %`]), ['left', 'right', 'right', 'right']));

// The same step data-parallel over two threads, as `vitas supernet train` runs it on two cores:
// where the wall time goes (this thread's view, plus the slowest worker's own clock).
const threads = Number(process.env.BENCH_THREADS ?? 2);
if (threads > 1) {
  const batch = { x: x.dataSync() as Float32Array, y: y.dataSync() as Int32Array, size: BATCH };
  const dp = new DataParallelStep(net, threads);
  let t0 = performance.now();
  for (let i = 0; i < STEPS + WARMUP; i++) {
    if (i === WARMUP) {
      dp.resetTimings();
      t0 = performance.now();
    }
    await dp.step(opt, batch, [spec], 1e-3, settings);
  }
  const wall = (performance.now() - t0) / STEPS;
  await dp.dispose();
  const per = (ms: number): string => (ms / dp.timings.steps).toFixed(1);
  const t = dp.timings;
  console.log(`\n${threads} threads: ${wall.toFixed(1)} ms a step (${(BATCH * 1000 / wall).toFixed(0)} img/s), shards of ${BATCH / threads}`);
  console.log(markdownTable(['part of a step', 'ms'], [
    ['hand-over: changed weights out, shards posted', per(t.handOver)],
    ['this thread\'s shard (forward + backward)', per(t.ownShard)],
    ['waiting for the workers', per(t.waitWorkers)],
    ['summing shard gradients', per(t.reduce)],
    ['AdamW', per(t.update)],
    ['slowest worker: loading weights', per(t.workerWeights)],
    ['slowest worker: its shard', per(t.workerShard)],
  ], ['left', 'right']));
}
