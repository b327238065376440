export * from './recipe.js';
export * from './supernet-recipe.js';
export * from './events.js';
export * from './adamw.js';
export * from './checkpoint.js';
export * from './state.js';
export * from './loop.js';
