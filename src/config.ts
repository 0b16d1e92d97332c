/**
 * Process configuration from the environment: validated once, frozen after start-up.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseAmount } from './billing/money.js';
import { defaultFreeQuota } from './billing/price-list.js';
import type { ChannelsFile } from './channels/channel-config.js';
import { deepFreeze, loadChannelsFile } from './channels/load-channels-file.js';

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().min(1);
const nonNegative = z.coerce.number().min(0);

const envSchema = z.object({
  PORT: port.default(8700),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().min(1).optional(),
  /** Must fit a full 262,144-token context with room to spare. */
  MAX_BODY_BYTES: positiveInt.default(16 * 1024 * 1024),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MOONSHOT_API_KEY: z.string().min(1).optional(),
  MOONSHOT_BASE_URL: z.url().default('https://api.moonshot.ai/v1'),
  MOONGATE_SIM_TTFT_MS: nonNegative.default(350),
  MOONGATE_SIM_TOKENS_PER_S: nonNegative.default(80),
  /** Console sessions end this long after their last use. */
  SESSION_TTL_DAYS: z.coerce.number().positive().max(365).default(30),
  /** Console sessions one person may hold; one more login ends the least recently used. */
  SESSIONS_PER_PERSON: positiveInt.max(1000).default(10),
  /** Behind a TLS-terminating proxy: believe its X-Forwarded-Proto/-Host/-For (Secure cookies, Origin checks, client IPs). */
  TRUST_PROXY: z.enum(['true', 'false', '1', '0']).default('false'),
  /** The address people reach moongate by (https://moongate.example.com): the console API answers to its host (docs/security.md). */
  PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .refine((value) => ['', '/'].includes(new URL(value).pathname), 'must be an origin such as https://moongate.example.com, without a path')
    .optional(),
  /** Console accounts one client address may register per hour (each can Acquire a free quota). */
  REGISTRATIONS_PER_HOUR: positiveInt.default(10),
  /** Currency amount with up to 6 decimals; default: 500 worst-case "Hello" requests on kimi-k2.5 (docs/billing.md). */
  MOONGATE_FREE_QUOTA: z.string().regex(/^\d+(\.\d{1,6})?$/, 'must be an amount such as 5.00').optional(),
  MOONGATE_CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter currency code').default('USD'),
  MOONGATE_USAGE_RETENTION_DAYS: positiveInt.default(90),
  /** Per person, across all their credentials, where the operator set no limit of their own (docs/security.md). */
  PERSON_CREDENTIALS_LIMIT: positiveInt.max(1_000_000).default(25),
  PERSON_RPS_LIMIT: positiveInt.max(1_000_000).default(120),
  PERSON_CONCURRENCY_LIMIT: positiveInt.max(1_000_000).default(40),
});

export interface SimulatorSettings {
  /** Time to first token, in milliseconds. */
  ttftMs: number;
  /** Generation speed; 0 means as fast as possible. */
  tokensPerSecond: number;
}

export type UpstreamConfig =
  | { kind: 'simulator'; simulator: SimulatorSettings }
  | { kind: 'moonshot'; apiKey: string; baseUrl: string };

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  maxBodyBytes: number;
  logLevel: string;
  upstream: UpstreamConfig;
  /** Channels, routing, keep-alive and drain settings from moongate.config.json/yaml (docs/channels.md). */
  channelsFile: Readonly<ChannelsFile>;
  sessionTtlMs: number;
  sessionsPerPerson: number;
  trustProxy: boolean;
  /** PUBLIC_URL's origin (no trailing slash), or undefined. */
  publicUrl: string | undefined;
  registrationsPerHour: number;
  /** Defaults of the per-person limits (the operator may set a person's own). */
  personLimits: PersonLimitDefaults;
  billing: BillingConfig;
}

export interface PersonLimitDefaults {
  /** Credentials a person may hold that are not revoked. */
  credentials: number;
  /** Requests per second across all their credentials. */
  rps: number;
  /** Requests running at once across all their credentials. */
  concurrency: number;
}

export interface BillingConfig {
  /** Micro-units a person's first application gets. */
  freeQuota: number;
  currency: string;
  usageRetentionDays: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Never echo the value: it may be a secret.
    throw new Error(`invalid environment: ${issue?.path.join('.') ?? '?'} ${issue?.message ?? ''}`.trim());
  }
  const e = parsed.data;
  const upstream: UpstreamConfig =
    e.MOONSHOT_API_KEY !== undefined
      ? { kind: 'moonshot', apiKey: e.MOONSHOT_API_KEY, baseUrl: e.MOONSHOT_BASE_URL }
      : { kind: 'simulator', simulator: { ttftMs: e.MOONGATE_SIM_TTFT_MS, tokensPerSecond: e.MOONGATE_SIM_TOKENS_PER_S } };
  return deepFreeze({
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    logLevel: e.LOG_LEVEL,
    upstream,
    sessionTtlMs: Math.round(e.SESSION_TTL_DAYS * 86_400_000),
    sessionsPerPerson: e.SESSIONS_PER_PERSON,
    trustProxy: e.TRUST_PROXY === 'true' || e.TRUST_PROXY === '1',
    publicUrl: e.PUBLIC_URL === undefined ? undefined : new URL(e.PUBLIC_URL).origin,
    registrationsPerHour: e.REGISTRATIONS_PER_HOUR,
    personLimits: { credentials: e.PERSON_CREDENTIALS_LIMIT, rps: e.PERSON_RPS_LIMIT, concurrency: e.PERSON_CONCURRENCY_LIMIT },
    billing: {
      freeQuota: e.MOONGATE_FREE_QUOTA === undefined ? defaultFreeQuota() : parseAmount(e.MOONGATE_FREE_QUOTA),
      currency: e.MOONGATE_CURRENCY,
      usageRetentionDays: e.MOONGATE_USAGE_RETENTION_DAYS,
    },
    channelsFile: loadChannelsFile(env),
  });
}
