/**
 * What moongate knows about a model: how it thinks, what input it takes, its context and
 * completion limits, the sampling parameters it refuses to change, and its state. The
 * seven public Kimi models of the seed are the default rows, in the hosted service's enum
 * order (SPEC.md). Temperature rules follow Moonshot's docs as summarised at the end of
 * SPEC.md: kimi-k2.5 accepts only 1 (anything else is dropped), the K2 models accept 0..1
 * (clamped).
 *
 * This table is the built-in default; the running catalogue (issue 18: models as data)
 * lives in the store and is changed without a restart.
 */
export type TemperatureRule = 'fixed-one' | 'clamp-zero-one';

/** never: no reasoning; always: reasoning on every reply; switchable: on by default, `thinking: {type: "disabled"}` turns it off. */
export type ThinkingMode = 'never' | 'always' | 'switchable';
export const REASONING_EFFORTS = ['low', 'high', 'max'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];
export const INPUT_KINDS = ['text', 'image', 'video'] as const;
export type InputKind = (typeof INPUT_KINDS)[number];
/**
 * active: served and listed; hidden: served, not listed; retired: answered with a message or
 * sent to its replacement; off: shipped but neither served nor listed until an operator
 * switches it on (asked for, it is an unknown model). docs/models.md.
 */
export const MODEL_STATES = ['active', 'hidden', 'retired', 'off'] as const;
export type ModelState = (typeof MODEL_STATES)[number];
/** Sampling parameters a model may refuse to have changed from its own values. */
export const SAMPLING_PARAMETERS = ['temperature', 'top_p', 'n', 'presence_penalty', 'frequency_penalty'] as const;
export type SamplingParameter = (typeof SAMPLING_PARAMETERS)[number];

export interface KimiModel {
  readonly id: string;
  readonly displayName: string;
  /** Thinking models return reasoning text before the answer (thinkingMode is not 'never'). */
  readonly thinking: boolean;
  readonly thinkingMode: ThinkingMode;
  /** The `reasoning_effort` levels it takes; empty: the field is refused. */
  readonly efforts: readonly ReasoningEffort[];
  /** What its messages may carry; 'text' always. */
  readonly inputs: readonly InputKind[];
  /** Whether image/video parts may be public URLs (false: data URIs only). */
  readonly remoteMedia: boolean;
  /** Context window in tokens (prompt + completion). */
  readonly contextTokens: number;
  /** Completion cap used when a request gives no max_tokens. */
  readonly defaultMaxTokens: number;
  /** The largest completion a request may ask for. */
  readonly maxCompletionTokens: number;
  readonly temperature: TemperatureRule;
  /** Sampling parameters this model refuses to have changed. */
  readonly fixedSampling: readonly SamplingParameter[];
  readonly state: ModelState;
  /** Retired: the model its requests are served by instead (the answer names the model asked for). */
  readonly replacement?: string;
  /** Retired without a replacement: the message clients get. */
  readonly retiredMessage?: string;
}

function seedModel(id: string, thinking: boolean, contextTokens: number, temperature: TemperatureRule): KimiModel {
  return {
    id,
    displayName: id,
    thinking,
    thinkingMode: thinking ? 'always' : 'never',
    efforts: [],
    inputs: ['text'],
    remoteMedia: false,
    contextTokens,
    defaultMaxTokens: thinking ? 32_768 : 8_192,
    maxCompletionTokens: contextTokens,
    temperature,
    fixedSampling: [],
    state: 'active',
  };
}

const MODEL_TABLE: KimiModel[] = [
  seedModel('kimi-k2-thinking-turbo', true, 262_144, 'clamp-zero-one'),
  seedModel('kimi-k2.5', true, 262_144, 'fixed-one'),
  seedModel('kimi-k2-thinking', true, 262_144, 'clamp-zero-one'),
  seedModel('kimi-k2-instruct-0905', false, 262_144, 'clamp-zero-one'),
  seedModel('kimi-k2-0905-preview', false, 262_144, 'clamp-zero-one'),
  seedModel('kimi-k2-turbo-preview', false, 262_144, 'clamp-zero-one'),
  seedModel('kimi-k2-0711-preview', false, 131_072, 'clamp-zero-one'),
];

/**
 * Moonshot's current models (issue 18), shipped 'off': an operator switches one on with
 * `moongate model set <id> --state active`. Facts and prices as read on 2026-12-05
 * (docs/models.md, with sources): kimi-k3 has a 1M context, 128K largest completion and the
 * efforts low, high and max; the others 256K.
 */
const CURRENT_SAMPLING_FIXED: readonly SamplingParameter[] = ['temperature', 'top_p', 'n', 'presence_penalty', 'frequency_penalty'];
export const CURRENT_MOONSHOT_MODELS: readonly KimiModel[] = Object.freeze(
  (
    [
      { id: 'kimi-k2.6', displayName: 'Kimi K2.6', thinkingMode: 'switchable', efforts: [], inputs: ['text', 'image', 'video'], remoteMedia: true, contextTokens: 262_144 },
      { id: 'kimi-k2.7-code', displayName: 'Kimi K2.7 Code', thinkingMode: 'always', efforts: [], inputs: ['text'], remoteMedia: false, contextTokens: 262_144 },
      { id: 'kimi-k2.7-code-highspeed', displayName: 'Kimi K2.7 Code Highspeed', thinkingMode: 'always', efforts: [], inputs: ['text'], remoteMedia: false, contextTokens: 262_144 },
      { id: 'kimi-k3', displayName: 'Kimi K3', thinkingMode: 'always', efforts: ['low', 'high', 'max'], inputs: ['text', 'image', 'video'], remoteMedia: false, contextTokens: 1_048_576 },
    ] as const
  ).map(
    (m): KimiModel =>
      Object.freeze({
        ...m,
        efforts: [...m.efforts],
        inputs: [...m.inputs],
        thinking: true,
        defaultMaxTokens: 32_768,
        maxCompletionTokens: m.id === 'kimi-k3' ? 131_072 : m.contextTokens,
        temperature: 'fixed-one',
        fixedSampling: CURRENT_SAMPLING_FIXED,
        state: 'off',
      }),
  ),
);

export const KIMI_MODELS: readonly KimiModel[] = Object.freeze(MODEL_TABLE.map((m) => Object.freeze(m)));

export const KIMI_MODEL_IDS: readonly string[] = KIMI_MODELS.map((m) => m.id);

const byId = new Map([...KIMI_MODELS, ...CURRENT_MOONSHOT_MODELS].map((m) => [m.id, m]));

/** The built-in row for an id (the seed's seven and the current Moonshot models). */
export function findModel(id: string): KimiModel | undefined {
  return byId.get(id);
}

/** Every built-in row: the seed's seven (in their order), then the current Moonshot models. */
export const BUILT_IN_MODELS: readonly KimiModel[] = Object.freeze([...KIMI_MODELS, ...CURRENT_MOONSHOT_MODELS]);

/**
 * How the gateway and the routes see the model catalogue (src/catalogue implements it from
 * the store; the gateway may not import that). Lookups are in memory, never a query.
 */
export interface ModelLookup {
  /** The row for an id in any state ('off' included: callers decide what a state means). */
  find(id: string): KimiModel | undefined;
  /** The active rows, in catalogue order: what /v1/models lists. */
  listed(): readonly KimiModel[];
  /**
   * Reads the store's catalogue version and reloads when it moved (coalesced: callers at
   * once share one query). The gateway calls it before answering "unknown model", so a
   * model just added by the CLI is served at once; the catalogue also calls it every second.
   */
  refresh?(): Promise<void>;
}

/** The built-in rows as a lookup (tests and tools that run without a store). */
export const BUILT_IN_LOOKUP: ModelLookup = {
  find: (id) => byId.get(id),
  listed: () => BUILT_IN_MODELS.filter((m) => m.state === 'active'),
};

/** A model is served when it is active or hidden; a retired one is answered or replaced. */
export function isServed(model: KimiModel): boolean {
  return model.state === 'active' || model.state === 'hidden';
}

/** The id pattern of catalogue rows: what `moongate model add` and channel maps accept. */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/;

/** Unix seconds used as `created` for every model in /v1/models (the models' public launch era). */
export const MODELS_CREATED = 1_751_328_000;
