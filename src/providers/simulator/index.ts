export { SimulatorProvider } from './simulator-provider.js';
export { SIMULATION_NOTICE } from './reply-plan.js';
export { sampleFromSchema, type JsonValue, type SchemaSampleOptions } from './schema-sample.js';
