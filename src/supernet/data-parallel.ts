/**
 * Data-parallel supernet steps over worker threads. tfjs-wasm runs single-threaded in Node, so
 * this is how a step uses every core: the batch is cut into shards, this thread computes the
 * first while each worker (holding a copy of the supernet) computes one of the others, and the
 * shard gradients, weighted by shard size, are summed before one AdamW update here.
 *
 * This thread owns the weights; a worker receives a variable's new values only when it changed
 * since that worker last saw it. Results are deterministic for a given number of shards (the sum
 * of shard means differs from the whole-batch mean only by float rounding — except where a
 * subnet has BatchNorm layers: they normalise each shard by its own statistics, like PyTorch's
 * DistributedDataParallel without SyncBatchNorm, so the thread count changes their losses).
 */
import * as tf from '@tensorflow/tfjs-core';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../workers.js';
import type { ArchSpec } from '../space/spec.js';
import type { MaskedAdamW } from '../train/adamw.js';
import { addStats } from './batchnorm.js';
import { applyGradients, stepGradients, type StepGradients, type StepSettings } from './step.js';
import type { Supernet } from './supernet.js';
import type { ShardReply, ShardRequest, StepWorkerInit } from './step-worker.js';

interface StepWorker {
  worker: Worker;
  ready: Promise<void>;
  /** version of each variable this worker holds */
  seen: Map<string, number>;
}

/** Sizes of `parts` near-equal shards of `n` (the first ones one larger). */
export function shardSizes(n: number, parts: number): number[] {
  const k = Math.min(parts, n);
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

/** Threads a training step should use: every core on wasm/cpu (single-threaded kernels in Node), else 1. */
export function defaultStepThreads(): number {
  return ['wasm', 'cpu'].includes(tf.getBackend()) ? availableParallelism() : 1;
}

/** Where a data-parallel step's wall time went, cumulative ms since the stepper was made (for `bench:profile`). */
export interface StepTimings {
  steps: number;
  /** copying changed weights out for the workers and posting the shards */
  handOver: number;
  /** this thread's own shard, forward + backward */
  ownShard: number;
  /** waiting for the workers after this thread's shard was done */
  waitWorkers: number;
  /** summing the shard gradients */
  reduce: number;
  /** AdamW on the used slices */
  update: number;
  /** in the slowest worker: loading the weights it was sent, and its shard's forward + backward */
  workerWeights: number;
  workerShard: number;
}

const zeroTimings = (): StepTimings => ({ steps: 0, handOver: 0, ownShard: 0, waitWorkers: 0, reduce: 0, update: 0, workerWeights: 0, workerShard: 0 });

export class DataParallelStep {
  readonly timings = zeroTimings();
  private readonly workers: StepWorker[] = [];
  /** bumped whenever this thread updates a variable */
  private readonly versions = new Map<string, number>();
  private nextId = 0;

  /** `threads` in all: this one plus threads − 1 workers (1: no workers, the whole batch here). Create it after the weights are loaded. */
  constructor(readonly net: Supernet, readonly threads: number, opts: { backend?: string } = {}) {
    // workers run the backend this thread runs (wasm or cpu; native backends are multi-threaded already)
    const backend = opts.backend ?? (['wasm', 'cpu'].includes(tf.getBackend()) ? tf.getBackend() : undefined);
    const init: StepWorkerInit = { space: net.space, options: net.options, seed: net.seed, ...(backend ? { backend } : {}) };
    for (let i = 1; i < threads; i++) {
      const { worker, ready } = startWorker(new URL('./step-worker.js', import.meta.url), init);
      this.workers.push({ worker, ready, seen: new Map() });
    }
  }

  private shard(w: StepWorker, req: Omit<ShardRequest, 'id' | 'weights'>, keys: string[], opt: MaskedAdamW): Promise<ShardReply> {
    const weights: [string, Float32Array][] = [];
    for (const key of keys) {
      const version = this.versions.get(key) ?? 0;
      if (w.seen.get(key) === version) continue;
      weights.push([key, opt.weights(this.net.params.get(key)!.v)]);
      w.seen.set(key, version);
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // a worker that dies (out of memory, a crash) fails the step instead of hanging it
      const onDeath = (e: unknown): void => {
        done();
        reject(new Error(`supernet step worker stopped: ${e instanceof Error ? e.message : `exit code ${String(e)}`}`));
      };
      const onMsg = (m: ShardReply): void => {
        if (m.id !== id) return;
        done();
        if (m.error) reject(new Error(`supernet step worker: ${m.error}`));
        else resolve(m);
      };
      const done = (): void => {
        w.worker.off('message', onMsg);
        w.worker.off('error', onDeath);
        w.worker.off('exit', onDeath);
      };
      w.worker.on('message', onMsg);
      w.worker.on('error', onDeath);
      w.worker.on('exit', onDeath);
      w.worker.postMessage({ id, ...req, weights } satisfies ShardRequest);
    });
  }

  /** One optimisation step on a batch (images flattened NHWC); returns the batch's mean loss. */
  async step(opt: MaskedAdamW, batch: { x: Float32Array; y: Int32Array; size: number }, specs: ArchSpec[], lr: number, settings: StepSettings): Promise<number> {
    await Promise.all(this.workers.map((w) => w.ready));
    const clock = { t: performance.now() };
    const lap = (k: 'handOver' | 'ownShard' | 'waitWorkers' | 'reduce' | 'update'): void => {
      const now = performance.now();
      this.timings[k] += now - clock.t;
      clock.t = now;
    };
    const [h, w, c] = this.net.space.input;
    const pixels = h * w * c;
    const usage = this.net.usage(specs, settings.slicing);
    const keys = [...usage.keys()];
    const sizes = shardSizes(batch.size, this.threads);
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const pending = sizes.slice(1).map((n, i) => {
      const s = starts[i + 1]!;
      return this.shard(this.workers[i]!, { specs, settings, x: batch.x.slice(s * pixels, (s + n) * pixels), y: batch.y.slice(s, s + n) }, keys, opt);
    });
    lap('handOver');
    // this thread's shard, while the workers compute theirs
    const n0 = sizes[0]!;
    const x = tf.tensor4d(batch.x.subarray(0, n0 * pixels), [n0, h, w, c]);
    const y = tf.tensor1d(batch.y.subarray(0, n0), 'int32');
    let own: StepGradients;
    try {
      own = stepGradients(this.net, x, y, specs, settings, usage);
    } catch (e) {
      await Promise.allSettled(pending); // the workers fail alike; no rejection left unhandled
      throw e;
    } finally {
      x.dispose();
      y.dispose();
    }
    lap('ownShard');
    const replies = await Promise.all(pending);
    lap('waitWorkers');
    // the size-weighted sum of the shard gradients, accumulated into this thread's own arrays
    // (w₀·g₀ + w₁·g₁ + …, the same float operations in the same order as summing from zero)
    let loss = own.loss;
    const grads = own.grads;
    // BatchNorm: each shard normalised by its own statistics; the running statistics move towards the whole batch's, pooled exactly
    const stats = own.stats;
    for (const r of replies) for (const e of r.stats ?? []) addStats(stats, e.spec, e.side, e.layer, e);
    if (replies.length) {
      this.timings.workerWeights += Math.max(...replies.map((r) => r.weightsMs ?? 0));
      this.timings.workerShard += Math.max(...replies.map((r) => r.shardMs ?? 0));
      const w0 = sizes[0]! / batch.size;
      loss *= w0;
      for (const g of grads.values()) for (let j = 0; j < g.length; j++) g[j]! *= w0;
      replies.forEach((r, i) => {
        const weight = sizes[i + 1]! / batch.size;
        loss += weight * r.loss!;
        for (const [key, g] of r.grads!) {
          const sum = grads.get(key);
          if (!sum) {
            for (let j = 0; j < g.length; j++) g[j]! *= weight;
            grads.set(key, g);
          } else for (let j = 0; j < g.length; j++) sum[j]! += weight * g[j]!;
        }
      });
    }
    lap('reduce');
    if (!Number.isFinite(loss)) return loss;
    applyGradients(this.net, opt, usage, grads, lr, specs, stats);
    for (const key of keys) this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
    lap('update');
    this.timings.steps++;
    return loss;
  }

  /** Start the timings afresh (e.g. after warm-up steps). */
  resetTimings(): void {
    Object.assign(this.timings, zeroTimings());
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
