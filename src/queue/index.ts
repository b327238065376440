export * from './connection.js';
export * from './jobs.js';
export * from './client.js';
export * from './evaluator.js';
export * from './worker.js';
export * from './status.js';
export * from './retrain.js';
export { runJob, disposeJobCaches } from './run-job.js';
