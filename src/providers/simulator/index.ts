export { SimulatorProvider } from './simulator-provider.js';
export type { SimulatorSettings } from './simulator-settings.js';
export { SIMULATION_NOTICE } from './reply-plan.js';
export { sampleFromSchema, type JsonValue, type SchemaSampleOptions } from './schema-sample.js';
