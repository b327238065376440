export * from './kendall.js';
export * from './definition.js';
export * from './run.js';
export * from './standalone-cache.js';
export * from './subnets.js';
export * from './proxy-fidelity.js';
export type { RankingCheck } from './report.js';
export * from './fidelity.js';
