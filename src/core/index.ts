export * from './errors.js';
export * from './catalog.js';
export * from './cache.js';
export * from './compare.js';
export * from './plan.js';
export * from './sql.js';
