export * from './model.js';
export * from './save.js';
export * from './evaluate.js';
export * from './retrain.js';
export * from './run.js';
export * from './definition-recipe.js';
