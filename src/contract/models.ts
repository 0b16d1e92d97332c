/**
 * The seven public Kimi models, in the hosted service's enum order (SPEC.md).
 * Temperature rules follow Moonshot's docs as summarised at the end of SPEC.md:
 * kimi-k2.5 accepts only 1 (anything else is dropped), the K2 models accept 0..1 (clamped).
 */
export type TemperatureRule = 'fixed-one' | 'clamp-zero-one';

export interface KimiModel {
  readonly id: string;
  /** Thinking models return reasoning text before the answer. */
  readonly thinking: boolean;
  /** Context window in tokens (prompt + completion). */
  readonly contextTokens: number;
  /** Completion cap used when a request gives no max_tokens. */
  readonly defaultMaxTokens: number;
  readonly temperature: TemperatureRule;
}

const MODEL_TABLE: KimiModel[] = [
  { id: 'kimi-k2-thinking-turbo', thinking: true, contextTokens: 262_144, defaultMaxTokens: 32_768, temperature: 'clamp-zero-one' },
  { id: 'kimi-k2.5', thinking: true, contextTokens: 262_144, defaultMaxTokens: 32_768, temperature: 'fixed-one' },
  { id: 'kimi-k2-thinking', thinking: true, contextTokens: 262_144, defaultMaxTokens: 32_768, temperature: 'clamp-zero-one' },
  { id: 'kimi-k2-instruct-0905', thinking: false, contextTokens: 262_144, defaultMaxTokens: 8_192, temperature: 'clamp-zero-one' },
  { id: 'kimi-k2-0905-preview', thinking: false, contextTokens: 262_144, defaultMaxTokens: 8_192, temperature: 'clamp-zero-one' },
  { id: 'kimi-k2-turbo-preview', thinking: false, contextTokens: 262_144, defaultMaxTokens: 8_192, temperature: 'clamp-zero-one' },
  { id: 'kimi-k2-0711-preview', thinking: false, contextTokens: 131_072, defaultMaxTokens: 8_192, temperature: 'clamp-zero-one' },
];

export const KIMI_MODELS: readonly KimiModel[] = Object.freeze(MODEL_TABLE.map((m) => Object.freeze(m)));

export const KIMI_MODEL_IDS: readonly string[] = KIMI_MODELS.map((m) => m.id);

const byId = new Map(KIMI_MODELS.map((m) => [m.id, m]));

export function findModel(id: string): KimiModel | undefined {
  return byId.get(id);
}

/** Unix seconds used as `created` for every model in /v1/models (the models' public launch era). */
export const MODELS_CREATED = 1_751_328_000;
