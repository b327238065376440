import * as tf from '@tensorflow/tfjs-core';
import pLimit from 'p-limit';
import { tensorSeed } from '../space/rng.js';
import type { ArchSpec } from '../space/spec.js';
import { buildModel } from '../retrain/model.js';
import type { Evaluator } from './evaluator.js';

/** Median forward time (ms) of the standalone subnet on the current backend. */
export class LatencyEvaluator implements Evaluator {
  readonly name = 'latency';
  readonly higherIsBetter = false;
  // measurements must not overlap each other, or they measure each other
  private readonly limit = pLimit(1);
  constructor(private readonly opts: { batch?: number; runs?: number } = {}) {}
  async evaluate(specs: ArchSpec[]): Promise<number[]> {
    return Promise.all(specs.map((s) => this.limit(() => this.measure(s))));
  }
  private measure(spec: ArchSpec): number {
    return measureLatency(spec, this.opts.batch ?? 1, this.opts.runs ?? 5);
  }
}

/** Median forward time (ms) of a freshly built standalone model of `spec`, after one warm-up run. */
export function measureLatency(spec: ArchSpec, batch = 1, runs = 5): number {
  const model = buildModel(spec, 0);
  const x = tf.randomNormal([batch, ...spec.input], 0, 1, 'float32', tensorSeed(0, 'latency/input')) as tf.Tensor4D;
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    tf.tidy(() => model.forward(x).dataSync());
    if (i > 0) times.push(performance.now() - t0);
  }
  x.dispose();
  model.dispose();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
