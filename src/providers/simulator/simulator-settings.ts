/**
 * How the built-in simulator paces its replies. Declared here, next to the provider that
 * reads it, so the provider depends on nothing above it; config.ts imports it from here.
 */
export interface SimulatorSettings {
  /** Time to first token, in milliseconds. */
  ttftMs: number;
  /** Generation speed; 0 means as fast as possible. */
  tokensPerSecond: number;
}
