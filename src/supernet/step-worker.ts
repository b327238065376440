/** Worker-thread entry of DataParallelStep: a supernet copy that computes one shard's gradients per message. */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import type { LayerStats } from './batchnorm.js';
import { stepGradients, type StepSettings } from './step.js';
import { Supernet, type SupernetOptions } from './supernet.js';

export interface StepWorkerInit {
  space: SearchSpace;
  options: SupernetOptions;
  /** the run seed: buffers (Performer's features) are never sent, each copy draws them from it */
  seed: number;
  backend?: string;
}

export interface ShardRequest {
  id: number;
  specs: ArchSpec[];
  settings: StepSettings;
  x: Float32Array;
  y: Int32Array;
  /** new values of variables changed since this worker last saw them */
  weights: [string, Float32Array][];
}

export interface ShardReply {
  id: number;
  loss?: number;
  grads?: [string, Float32Array][];
  /** the shard's BatchNorm batch statistics */
  stats?: LayerStats[];
  /** time spent loading the weights sent, and on the shard's forward + backward */
  weightsMs?: number;
  shardMs?: number;
  error?: string;
}

const init = workerData as StepWorkerInit;
await initBackend(init.backend);
const net = new Supernet(init.space, { ...init.options, seed: init.seed });
parentPort!.on('message', (m: ShardRequest) => {
  try {
    const t0 = performance.now();
    for (const [key, values] of m.weights) {
      const p = net.params.get(key)!;
      tf.tidy(() => p.v.assign(tf.tensor(values, p.v.shape)));
    }
    const t1 = performance.now();
    const [h, w, c] = init.space.input;
    const n = m.y.length;
    const x = tf.tensor4d(m.x, [n, h, w, c]);
    const y = tf.tensor1d(m.y, 'int32');
    const { loss, grads, stats } = stepGradients(net, x, y, m.specs, m.settings);
    x.dispose();
    y.dispose();
    const list = [...grads];
    parentPort!.postMessage({ id: m.id, loss, grads: list, stats, weightsMs: t1 - t0, shardMs: performance.now() - t1 } satisfies ShardReply, list.map(([, g]) => g.buffer as ArrayBuffer));
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message } satisfies ShardReply);
  }
});
parentPort!.postMessage({ ready: true });
