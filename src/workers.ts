/** Worker threads that announce `{ ready: true }` once their backend and model are built. */
import { Worker } from 'node:worker_threads';

/** Start the worker module at `url` with `workerData`; `ready` settles when it says so (or fails to start). */
export function startWorker(url: URL, workerData: unknown): { worker: Worker; ready: Promise<void> } {
  const worker = new Worker(url, { workerData });
  const ready = new Promise<void>((resolve, reject) => {
    const onMsg = (m: { ready?: boolean }): void => {
      if (!m.ready) return;
      worker.off('message', onMsg);
      worker.off('error', reject);
      resolve();
    };
    worker.on('message', onMsg);
    worker.once('error', reject);
  });
  return { worker, ready };
}
