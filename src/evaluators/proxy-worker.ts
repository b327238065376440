/** Worker-thread entry of ParallelProxyEvaluator: one backend and one proxy (and its supernet) per worker. */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend/index.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { proxyByName } from './proxies.js';

interface Init {
  space: SearchSpace;
  seed: number;
  batch: number;
  proxy: string;
  backend?: string;
}

const init = workerData as Init;
await initBackend(init.backend);
const evaluator = proxyByName(init.proxy, 'proxy worker').create(init.space, { seed: init.seed, batch: init.batch });
parentPort!.on('message', (m: { id: number; specs: ArchSpec[] }) => {
  try {
    parentPort!.postMessage({ id: m.id, scores: m.specs.map((s) => evaluator.score(s)) });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
parentPort!.postMessage({ ready: true });
