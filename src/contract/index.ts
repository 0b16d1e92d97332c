export * from './echo-value.js';
export * from './errors.js';
export * from './events.js';
export * from './ids.js';
export * from './model-rules.js';
export * from './models.js';
export * from './request.js';
export * from './response.js';
