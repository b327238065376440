export * from './kendall.js';
export * from './definition.js';
export * from './run.js';
