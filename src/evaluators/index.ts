export * from './evaluator.js';
export * from './cost.js';
export * from './supernet.js';
export * from './latency.js';
export * from './proxy.js';
export * from './parallel-proxy.js';
export * from './trained-supernet.js';
