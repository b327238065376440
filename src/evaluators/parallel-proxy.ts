/**
 * The proxy evaluator spread over worker threads (tfjs-wasm runs single-threaded in Node, so this
 * is how a search uses every core). Each worker holds the same seeded supernet, so a spec's score
 * does not depend on which worker computed it. Dispatch is bounded by p-limit.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../workers.js';
import pLimit from 'p-limit';
import { specKey, type ArchSpec } from '../space/spec.js';
import type { SearchSpace } from '../space/space.js';
import type { Evaluator } from './evaluator.js';
import type { ProxyName } from './proxies.js';

export class ParallelProxyEvaluator implements Evaluator {
  readonly name = 'proxy';
  readonly higherIsBetter = true;
  private readonly workers: { worker: Worker; ready: Promise<void>; exited?: number }[] = [];
  private readonly free: number[] = [];
  private readonly limit;
  private readonly cache = new Map<string, number>();
  private nextId = 0;

  /** `proxy`: which of PROXIES the workers score with (snip) */
  constructor(space: SearchSpace, opts: { seed?: number; batch?: number; workers?: number; backend?: string; proxy?: ProxyName } = {}) {
    const n = Math.max(1, opts.workers ?? Math.min(2, availableParallelism()));
    this.limit = pLimit(n);
    const data = { space, seed: opts.seed ?? 0, batch: opts.batch ?? 1, proxy: opts.proxy ?? 'snip', ...(opts.backend ? { backend: opts.backend } : {}) };
    for (let i = 0; i < n; i++) {
      const { worker, ready } = startWorker(new URL('./proxy-worker.js', import.meta.url), data);
      // a worker that fails to start is reported by evaluate(), which awaits `ready`; not as an unhandled rejection before that
      ready.catch(() => undefined);
      const slot: { worker: Worker; ready: Promise<void>; exited?: number } = { worker, ready };
      worker.once('exit', (code) => (slot.exited = code));
      this.workers.push(slot);
      this.free.push(i);
    }
  }

  private run(i: number, specs: ArchSpec[]): Promise<number[]> {
    const { worker, exited } = this.workers[i]!;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (exited !== undefined) return reject(new Error(`proxy worker: exited (code ${exited})`));
      const done = (): void => {
        worker.off('message', onMsg);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMsg = (m: { id: number; scores?: number[]; error?: string }): void => {
        if (m.id !== id) return;
        done();
        if (m.error) reject(new Error(`proxy worker: ${m.error}`));
        else resolve(m.scores!);
      };
      // a worker that dies never answers: fail the call rather than wait forever
      const onError = (e: Error): void => {
        done();
        reject(new Error(`proxy worker: ${e.message}`));
      };
      const onExit = (code: number): void => {
        done();
        reject(new Error(`proxy worker: exited (code ${code}) before answering`));
      };
      worker.on('message', onMsg);
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.postMessage({ id, specs });
    });
  }

  async evaluate(specs: ArchSpec[]): Promise<number[]> {
    await Promise.all(this.workers.map((w) => w.ready));
    const todo = [...new Map(specs.filter((s) => !this.cache.has(specKey(s))).map((s) => [specKey(s), s])).values()];
    await Promise.all(
      todo.map((s) =>
        this.limit(async () => {
          const i = this.free.pop()!;
          try {
            const [score] = await this.run(i, [s]);
            this.cache.set(specKey(s), score!);
          } finally {
            this.free.push(i);
          }
        }),
      ),
    );
    return specs.map((s) => this.cache.get(specKey(s))!);
  }

  /** Ends the worker threads (they would keep the process alive); safe to call twice. */
  dispose(): void {
    for (const w of this.workers.splice(0)) void w.worker.terminate();
  }
}
