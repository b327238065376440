export * from './definition.js';
export * from './budget.js';
