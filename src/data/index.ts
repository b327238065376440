export * from './dataset.js';
export * from './idx.js';
export * from './cifar.js';
export * from './folder.js';
export * from './load.js';
export * from './batches.js';
