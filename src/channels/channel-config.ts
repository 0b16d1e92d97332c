/**
 * The shape of a channel and of the routing settings, as the config file declares them
 * (docs/channels.md): a discriminated union on `kind`, validated with zod, every default
 * filled in, so the rest of the code never guesses at a missing field.
 */
import { z } from 'zod';
import { KIMI_MODEL_IDS, KNOWN_REQUEST_FIELDS, MODEL_ID_PATTERN } from '../contract/index.js';

const ms = z.number().int().min(1);

/** Upstream timeouts in milliseconds; each one that expires before the first event is a 504. */
export const timeoutsSchema = z
  .object({
    /** Opening the TCP (and TLS) connection. */
    connectMs: ms.default(10_000),
    /** From the request sent to the response headers. */
    headersMs: ms.default(60_000),
    /** From the start of the attempt to the first event (a long prefill still fits). */
    firstTokenMs: ms.default(120_000),
    /** The longest silence between two events once the stream has begun. */
    idleMs: ms.default(60_000),
    /** The whole upstream call. */
    totalMs: ms.default(900_000),
  })
  .strict();

export type ChannelTimeouts = z.output<typeof timeoutsSchema>;

/**
 * Any catalogue id (docs/models.md): the catalogue lives in the store and changes without a
 * restart, so a channel may name a model the operator adds later; a name no catalogue row
 * has is simply never asked for.
 */
const modelId = z.string().regex(MODEL_ID_PATTERN, {
  error: () => `must be a model id (letters, digits, dots, dashes, underscores, colons or slashes), such as ${KIMI_MODEL_IDS[1] ?? 'kimi-k2.5'}`,
});

/** `"*"` (every catalogue model, under its own name), a list of public names, or public name → upstream name. */
const modelsSchema = z.union(
  [
    z.literal('*'),
    z.array(modelId).min(1),
    z.partialRecord(modelId, z.string().min(1)).refine((m) => Object.keys(m).length > 0, 'must name at least one model'),
  ],
  {
    error: () =>
      `must be "*", a list of model ids, or an object mapping model ids to upstream names; the seed's models are ${KIMI_MODEL_IDS.join(', ')}`,
  },
);

/**
 * Request fields moongate does not know that this channel's upstream gets as the client
 * sent them (docs/requests.md, "Fields moongate does not know"): vLLM's
 * `chat_template_kwargs`, say. A field moongate knows cannot be named (it is built from
 * the checked request), except `prompt_cache_options`, which only Moonshot channels send
 * by themselves.
 */
const passthroughSchema = z
  .array(
    z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be a field name of lowercase letters, digits and _')
      .refine((field) => field === 'prompt_cache_options' || !KNOWN_REQUEST_FIELDS.has(field), 'is a field moongate builds itself'),
  )
  .max(32)
  .default([]);

export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const common = {
  name: z.string().regex(CHANNEL_NAME_PATTERN, 'must be 1-64 letters, digits, dots, dashes or underscores'),
  models: modelsSchema.default('*'),
  /** Lower numbers are tried first; channels of equal priority share by weight. */
  priority: z.number().int().min(0).max(1000).default(0),
  weight: z.number().int().min(1).max(10_000).default(1),
  /** Requests this channel serves at once; a channel at its cap is skipped. */
  maxConcurrency: z.number().int().min(1).max(1_000_000).default(1024),
  timeouts: timeoutsSchema.default(timeoutsSchema.parse({})),
  enabled: z.boolean().default(true),
  passthrough: passthroughSchema,
};

export const simulatorSettingsSchema = z
  .object({ ttftMs: z.number().min(0).default(350), tokensPerSecond: z.number().min(0).default(80) })
  .strict();

export const channelSchema = z.discriminatedUnion('kind', [
  z.object({ ...common, kind: z.literal('openai-compatible'), baseUrl: z.url(), apiKey: z.string().optional() }).strict(),
  z
    .object({
      ...common,
      kind: z.literal('moonshot'),
      baseUrl: z.url().default('https://api.moonshot.ai/v1'),
      apiKey: z.string().min(1),
    })
    .strict(),
  z
    .object({ ...common, kind: z.literal('simulator'), simulator: simulatorSettingsSchema.default(simulatorSettingsSchema.parse({})) })
    .strict(),
]);

export type ChannelInput = z.input<typeof channelSchema>;
type ParsedChannel = z.output<typeof channelSchema>;

export type ChannelKind = ParsedChannel['kind'];
export const CHANNEL_KINDS: readonly ChannelKind[] = ['moonshot', 'openai-compatible', 'simulator'];

/** Where a channel was declared: the config file, the database (CLI), or the built-in default. */
export type ChannelSource = 'file' | 'database' | 'default';

/** A channel ready to use: models resolved to a public name → upstream name map. */
export type ChannelSpec = ParsedChannel extends infer C
  ? C extends ParsedChannel
    ? Omit<C, 'models'> & {
        models: Readonly<Record<string, string>>;
        /** Declared with `"*"`: serves every catalogue model under its own name, not only those in `models`. */
        everyModel?: boolean;
        source: ChannelSource;
      }
    : never
  : never;

export const routingSchema = z
  .object({
    /** Attempts per request, the first included, across all channels. */
    maxAttempts: z.number().int().min(1).max(10).default(3),
    /** No new attempt starts once this long has passed since the first. */
    budgetMs: ms.default(30_000),
    /** The first retry waits about this long, doubling each time (with jitter). */
    backoffMs: z.number().int().min(0).default(50),
    breaker: z
      .object({
        /** Consecutive failures that open a channel's breaker. */
        failures: z.number().int().min(1).default(5),
        /** How long an open breaker keeps the channel out before one trial request. */
        cooldownMs: ms.default(30_000),
      })
      .strict()
      .default({ failures: 5, cooldownMs: 30_000 }),
  })
  .strict();

export type RoutingSettings = z.output<typeof routingSchema>;

export const channelsFileSchema = z
  .object({
    channels: z.array(channelSchema).default([]),
    routing: routingSchema.default(routingSchema.parse({})),
    /** A `: keep-alive` comment goes out after this long without a byte to the client. */
    keepAliveMs: ms.default(15_000),
    /** How long a shutdown waits for running requests before it cuts them. */
    drainMs: z.number().int().min(0).default(30_000),
  })
  .strict();

export type ChannelsFile = Omit<z.output<typeof channelsFileSchema>, 'channels'> & {
  channels: readonly ChannelSpec[];
};

/** `"*"` or a list becomes an identity map; a map is kept. */
export function resolveModels(models: ParsedChannel['models']): Record<string, string> {
  if (models === '*') return Object.fromEntries(KIMI_MODEL_IDS.map((id) => [id, id]));
  if (Array.isArray(models)) return Object.fromEntries(models.map((id) => [id, id]));
  return Object.fromEntries(Object.entries(models).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

export function toChannelSpec(parsed: ParsedChannel, source: ChannelSource): ChannelSpec {
  // The spread keeps the kind and its own fields together; TypeScript cannot see that through Omit.
  return { ...parsed, models: resolveModels(parsed.models), everyModel: parsed.models === '*', source } as ChannelSpec;
}
